"""The reference stage of a campaign: the potential file and the relaxed starting cluster.

Rules ``make_potential`` and ``relax_cluster`` in ``rules/reference.smk`` call these through the
CLI; each writes its outputs atomically.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import write

from hopformer.physics.clusters import add_adatoms, build_cluster, read_cluster
from hopformer.physics.eam import read_potential, write_setfl
from hopformer.physics.engine import Langevin
from hopformer.physics.io import atomic_path, write_json_atomic
from hopformer.physics.potentials import open_engine, plugin_for, potential_id
from hopformer.physics.states import QUENCH_FMAX, quench, state_key
from hopformer.physics.structure import center_in_vacuum
from hopformer.physics.zhou2004 import zhou_table
from hopformer.streams import START, lammps_seed, seed_of

ZHOU = "zhou2004"


def make_potential(
    out: str | os.PathLike,
    source: str = ZHOU,
    element: str = "Pt",
    nr: int = 2000,
    nrho: int = 2000,
    cutoff: float | None = None,
) -> Path:
    """Write the campaign's setfl file: generated (``source="zhou2004"``) or a user file —
    or copy a trained MLIP model file (``source`` ending in ``.pt``; ``out`` must too).

    A user file (setfl or funcfl) is parsed first, so a malformed one fails here with its file
    and line, and is then copied unchanged.
    """
    out = Path(out)
    if source == ZHOU:
        return write_setfl(zhou_table(element, nr=nr, nrho=nrho, cutoff=cutoff), out)
    plugin = plugin_for(source)
    if plugin is not None:
        if plugin_for(out) is not plugin:
            raise ValueError(
                f"potential source {source} is a {plugin.name}: the output {out} must be one too"
            )
        plugin.check(source)  # a model file, or fail here naming it
        with atomic_path(out) as tmp:
            shutil.copyfile(source, tmp)
        return out
    table = read_potential(source)
    if element not in table.elements:
        raise ValueError(f"potential file {source} has elements {table.elements}, not {element!r}")
    if table.source_format != "setfl":
        return write_setfl(table, out)
    with atomic_path(out) as tmp:
        shutil.copyfile(source, tmp)
    return out


@dataclass(frozen=True)
class ClusterSpec:
    """How to make the starting cluster: a shape and its size parameters, or a file."""

    element: str = "Pt"
    shape: str = "icosahedron"
    shells: int = 3
    p: int = 3
    q: int = 2
    r: int = 0
    length: int = 4
    cutoff: int = 1
    file: str | None = None
    vacuum: float = 10.0
    melt_temperature: float | None = None  # K; melt (Langevin) before the quench
    melt_ps: float = 20.0
    adatoms: int = 0
    seed: int = 1

    def build(self, lattice_constant: float | None) -> Atoms:
        if self.file:
            return read_cluster(self.file, vacuum=self.vacuum)
        atoms = build_cluster(
            self.element,
            self.shape,
            shells=self.shells,
            p=self.p,
            q=self.q,
            r=self.r,
            length=self.length,
            cutoff=self.cutoff,
            lattice_constant=lattice_constant,
            vacuum=self.vacuum,
        )
        return center_in_vacuum(add_adatoms(atoms, self.adatoms, self.seed), self.vacuum)


def melt(engine, temperature: float, ps: float, seed: int, timestep_fs: float = 2.0) -> None:
    """Langevin MD at ``temperature`` K for ``ps`` picoseconds, seeded: a disordered start.

    A closed-shell icosahedron is a deep trap (no transition in 5.8 ns of Pt147 at 700 K,
    docs/design.md §3); melt-quenched clusters, as in LANL's ParSplice Pt runs, make
    transitions at once.
    """
    if temperature <= 0 or ps <= 0:
        raise ValueError(f"melt: temperature and ps must be > 0, got {temperature} K, {ps} ps")
    engine.thermalize(temperature, seed=seed)
    steps = max(1, round(ps * 1000.0 / timestep_fs))
    engine.run(steps, Langevin(temperature, timestep_fs=timestep_fs, seed=seed + 1))


def relax_cluster(
    spec: ClusterSpec,
    potential: str | os.PathLike,
    out_structure: str | os.PathLike,
    out_json: str | os.PathLike,
    fmax: float = QUENCH_FMAX,
    trajectory: int = 0,
) -> dict:
    """Build (or read) the cluster, quench it on ``potential``, write extxyz and a JSON summary.

    ``trajectory`` > 0 makes the start of another trajectory spliced side by side: the same
    build, melted under its own seed (the reference cluster is trajectory 0's start).
    """
    if trajectory < 0:
        raise ValueError(f"trajectory must be ≥ 0, got {trajectory}")
    melt_seed = spec.seed if trajectory == 0 else lammps_seed(seed_of(spec.seed, START, trajectory))
    a0 = None  # an MLIP has no tabulated lattice constant: ASE's reference one, then quenched
    if plugin_for(potential) is None:
        table = read_potential(potential)
        if spec.element in table.elements:
            a0 = table.lattice_constants[table.elements.index(spec.element)] or None
    atoms = spec.build(a0)
    engine = open_engine(atoms, potential)
    if spec.melt_temperature:
        melt(engine, spec.melt_temperature, spec.melt_ps, melt_seed)
    result = quench(engine, fmax=fmax, restore=False)
    atoms.set_positions(result.positions)
    atoms.center()
    atoms.calc = SinglePointCalculator(atoms, energy=result.energy, forces=engine.forces())
    with atomic_path(out_structure) as tmp:
        write(tmp, atoms, format="extxyz")
    summary = {
        "natoms": len(atoms),
        "formula": atoms.get_chemical_formula(),
        "energy_eV": result.energy,
        "energy_per_atom_eV": result.energy / len(atoms),
        "fmax_eV_per_A": result.fmax,
        "minimizer_iterations": result.iterations,
        "state_key": state_key(result.energy, atoms.numbers),
        "radius_of_gyration_A": float(
            np.sqrt(((atoms.positions - atoms.positions.mean(0)) ** 2).sum(1).mean())
        ),
        "potential": str(potential),
        "potential_sha256": potential_id(potential),
        "source": spec.file or spec.shape,
        "melted_at_K": spec.melt_temperature,
        "trajectory": trajectory,
        "melt_seed": melt_seed if spec.melt_temperature else None,
    }
    write_json_atomic(out_json, summary)
    return summary
