"""Climbing-image NEB on a known Pt adatom hop, and splitting at an intermediate minimum.

System: a Pt adatom on the (100) facet of a Pt201 truncated octahedron (Zhou EAM), hopping
between neighbouring 4-fold hollows. The lowest path goes through an intermediate minimum
(0.2 eV above the hollows); each elementary step has a barrier of about 0.44 eV.
"""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms

from hopformer.physics.clusters import build_cluster
from hopformer.physics.neb import minimum_energy_path, run_neb
from hopformer.physics.potentials import open_engine
from hopformer.physics.states import quench, same_state


@pytest.fixture(scope="module")
def hop(pt_potential):
    """(numbers, hollow A, hollow B, relax, same) for the adatom on Pt201's (100) facet."""
    cluster = build_cluster("Pt", "truncated_octahedron", length=7, cutoff=2, lattice_constant=3.92)
    x = cluster.positions - cluster.positions.mean(0)
    top = x[:, 2].max()
    sites = [np.array([-1.96, 0.0, top + 1.96]), np.array([0.0, -1.96, top + 1.96])]
    numbers = np.full(len(x) + 1, 78)
    engine = open_engine(
        Atoms(numbers=numbers, positions=np.vstack([x, sites[0]]), cell=[40.0] * 3), pt_potential
    )
    a, b = (quench(engine, np.vstack([x, s]), restore=False) for s in sites)
    assert a.energy == pytest.approx(b.energy, abs=1e-6), "symmetric hollows"
    assert not same_state(a.positions, b.positions, numbers)

    def relax(p):
        return quench(engine, p, restore=False).positions

    def same(p, q):
        return same_state(p, q, numbers)

    yield numbers, a.positions, b.positions, relax, same
    engine.close()


def test_an_intermediate_minimum_on_the_band_is_split_off(pt_potential, hop):
    numbers, a, b, relax, same = hop
    path = minimum_energy_path(pt_potential, numbers, a, b, relax, same, images=13, fmax=0.01)
    assert path.split and len(path.segments) == 2 and path.converged
    first, second = path.segments
    middle = first.positions[-1]
    assert not same(middle, a) and not same(middle, b), "a distinct intermediate state"
    assert first.energies[-1] - first.energies[0] == pytest.approx(0.2, abs=0.05)
    for seg in path.segments:
        assert not seg.interior_minima(), "each segment is one elementary step"
        assert 0.3 < max(seg.barrier, seg.reverse_barrier) < 0.6
    # By symmetry the two steps mirror each other.
    assert first.barrier == pytest.approx(second.reverse_barrier, abs=5e-3)


def test_the_production_band_matches_a_fine_band_within_5_mev(pt_potential, hop):
    numbers, a, b, relax, same = hop
    fine = minimum_energy_path(pt_potential, numbers, a, b, relax, same, images=13, fmax=0.01)
    middle = fine.segments[0].positions[-1]
    coarse = run_neb(pt_potential, numbers, a, middle)  # the defaults validation uses
    reference = run_neb(pt_potential, numbers, a, middle, images=15, fmax=0.002, steps=5000)
    assert coarse.converged and reference.converged
    assert abs(coarse.barrier - reference.barrier) < 5e-3, (coarse.barrier, reference.barrier)


def test_an_unconverged_band_says_so(pt_potential, hop):
    numbers, a, b, *_ = hop
    band = run_neb(pt_potential, numbers, a, b, images=7, fmax=0.05, steps=3)
    assert not band.converged and band.steps == 3
