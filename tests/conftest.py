"""Shared fixtures: Zhou 2004 potential files, Pt55 clusters and real transitions
(session-scoped, seconds in all), and one completed run of the tiny test campaign (shared by
the workflow tests and the fault suite; made once, on first use)."""

from __future__ import annotations

import numpy as np
import pytest
from ase.calculators.singlepoint import SinglePointCalculator

from harness import TINY, Workflow
from hopformer.physics.clusters import build_cluster
from hopformer.physics.eam import write_setfl
from hopformer.physics.potentials import open_engine
from hopformer.physics.states import quench
from hopformer.physics.zhou2004 import zhou_table
from hopformer.reference.cluster import melt
from hopformer.splicing.segments import SegmentSpec, Worker, WorkerId
from hopformer.transformer.examples import Example


@pytest.fixture(scope="session")
def pt_potential(tmp_path_factory):
    return write_setfl(zhou_table("Pt"), tmp_path_factory.mktemp("pot") / "Pt.eam.alloy")


@pytest.fixture(scope="session")
def al_potential(tmp_path_factory):
    return write_setfl(zhou_table("Al"), tmp_path_factory.mktemp("pot") / "Al.eam.alloy")


@pytest.fixture
def pt55():
    """A fresh Pt55 icosahedron at the Zhou lattice constant, free cluster in vacuum."""
    return build_cluster("Pt", "icosahedron", shells=3, lattice_constant=3.92)


@pytest.fixture(scope="session")
def disordered_pt55(pt_potential):
    """A melt-quenched Pt55 (positions, energy): makes transitions within picoseconds."""
    atoms = build_cluster("Pt", "icosahedron", shells=3, lattice_constant=3.92)
    engine = open_engine(atoms, pt_potential)
    melt(engine, 1600.0, 20.0, seed=3)
    q = quench(engine, restore=False)
    engine.close()
    atoms.set_positions(q.positions)
    atoms.calc = SinglePointCalculator(atoms, energy=q.energy)
    return atoms


@pytest.fixture(scope="session")
def pt55_transitions(pt_potential, disordered_pt55):
    """Real transitions of the disordered Pt55 at 900 K (one splicing worker's chain, ≥ 6):
    transition-shard rows with initial/final minima, the final aligned onto the initial."""
    spec = SegmentSpec(temperature=900.0, segments=4, segment_ps=4.0, block_ps=0.5)
    engine = open_engine(disordered_pt55, pt_potential)
    worker = Worker(engine, spec, WorkerId("test", 0, 0), 11, "sha", log=lambda m: None)
    _, transitions = worker.run(disordered_pt55.positions)
    engine.close()
    assert len(transitions) >= 6, "a melt-quenched Pt55 at 900 K hops every few ps"
    return transitions


@pytest.fixture(scope="session")
def pt55_examples(pt55_transitions):
    """The same transitions as the transformer's examples (transition i: states i → i + 1)."""
    return [
        Example(
            np.asarray(t["numbers"], dtype=np.int64),
            np.asarray(t["initial_positions"]),
            np.asarray(t["final_positions"]),
            i,
            i + 1,
            t["atoms_moved"],
        )
        for i, t in enumerate(pt55_transitions)
    ]


@pytest.fixture(scope="session")
def _completed(tmp_path_factory) -> Workflow:
    wf = Workflow(tmp_path_factory.mktemp("completed"), TINY)
    wf.snakemake()
    return wf


@pytest.fixture
def done(_completed, tmp_path) -> Workflow:
    """A private copy of a completed run of the tiny campaign (results and records)."""
    return _completed.copy_to(tmp_path / "done")
