"""State identity on real quenches of a hot Pt cluster, alignment and the state key."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from hopformer.physics.clusters import build_cluster
from hopformer.physics.engine import Langevin
from hopformer.physics.lammps_engine import LammpsEngine
from hopformer.physics.states import (
    SAME_STATE_TOL,
    align,
    match,
    max_displacement,
    neighbour_keys,
    quench,
    radial_fingerprint,
    same_state,
    state_distance,
    state_key,
)


@pytest.fixture(scope="module")
def hot_snapshots(pt_potential):
    """24 snapshots 0.2 ps apart of a Pt55 cluster at 900 K, after melting it at 1600 K."""
    atoms = build_cluster("Pt", "icosahedron", shells=3, lattice_constant=3.92)
    engine = LammpsEngine(atoms, pt_potential)
    engine.thermalize(1600.0, seed=4)
    engine.run(2500, Langevin(1600.0, seed=8))
    snaps = []
    for _ in range(24):
        engine.run(100, Langevin(900.0, seed=9))
        snaps.append(engine.get_positions())
    return engine, atoms.numbers, snaps


def test_same_state_agrees_with_tight_quench_truth(hot_snapshots):
    engine, numbers, snaps = hot_snapshots
    rng = np.random.default_rng(0)
    quenched, tight, keys = [], [], []
    for x in snaps:
        pair = []
        for _ in range(2):
            rattled = x + rng.normal(scale=0.01, size=x.shape)
            q = quench(engine, rattled)
            pair.append(q.positions)
            keys.append(q.energy)
        quenched.append(pair)
        tight.append(quench(engine, pair[0], fmax=1e-5).positions)

    def truth(a, b):
        d = state_distance(a, b, numbers)
        assert d < 0.02 or d > 0.2, f"ground truth ambiguous: tight minima differ by {d:.3f} Å"
        return d < 0.02

    n_same = 0
    for k, ((qa, qb), t) in enumerate(zip(quenched, tight, strict=True)):
        t_b = quench(engine, qb, fmax=1e-5).positions
        is_same = truth(t, t_b)
        n_same += is_same
        assert same_state(qa, qb, numbers) == is_same
        if is_same:  # one minimum, two quenches: the same key (or a neighbouring bin)
            e_a, e_b = keys[2 * k], keys[2 * k + 1]
            assert abs(e_a - e_b) < 1e-4
            assert state_key(e_a, numbers) in neighbour_keys(e_b, numbers)
    assert n_same >= 20

    n_diff = 0
    for i, j in itertools.combinations(range(len(snaps)), 2):
        is_same = truth(tight[i], tight[j])
        n_diff += not is_same
        assert same_state(quenched[i][0], quenched[j][0], numbers) == is_same, (i, j)
    assert n_diff >= 20  # the cluster visited many minima


def test_alignment_undoes_rotation_translation_and_permutation(pt_potential):
    atoms = build_cluster("Pt", "decahedron", p=3, q=2, r=0, lattice_constant=3.92)
    # Symmetry broken on purpose: in a perfect decahedron a 72° turn is an exact match too.
    x = atoms.positions + np.random.default_rng(1).normal(scale=0.1, size=atoms.positions.shape)
    rot = Rotation.from_euler("zyx", [40, -25, 70], degrees=True).as_matrix()
    moved = x @ rot.T + [1.0, -2.0, 3.5]
    np.testing.assert_allclose(align(x, moved), x, atol=1e-10)
    perm = np.arange(len(x))
    perm[[4, 9]] = perm[[9, 4]]
    perm[[0, 30]] = perm[[30, 0]]
    shuffled = moved[perm]
    assert max_displacement(x, align(x, shuffled)) > 1.0
    aligned, found = match(x, shuffled, atoms.numbers)
    np.testing.assert_allclose(aligned, x, atol=1e-8)
    np.testing.assert_array_equal(shuffled[found], moved)
    assert same_state(x, shuffled, atoms.numbers)
    assert not same_state(
        x, shuffled + np.eye(3)[0] * (np.arange(len(x)) == 5)[:, None] * 0.3, atoms.numbers
    )  # one atom off by 0.3 Å is another state


def test_a_moved_surface_atom_is_another_state(pt_potential, pt55):
    atoms = pt55
    engine = LammpsEngine(atoms, pt_potential)
    x = engine.minimize().positions
    centre = x.mean(0)
    r2 = ((x - centre) ** 2).sum(1)
    vertex = int(np.argmax(r2))
    # The vertex atom moved on top of the opposite vertex: an adatom and a vacancy.
    opposite = int(np.argmax(((x - x[vertex]) ** 2).sum(1)))
    moved = x.copy()
    moved[vertex] = x[opposite] + 2.4 * (x[opposite] - centre) / np.sqrt(r2[opposite])
    q = quench(engine, moved)
    x_energy = quench(engine, x).energy
    assert not same_state(x, q.positions, atoms.numbers)
    assert state_distance(x, q.positions, atoms.numbers) > 1.0
    assert q.energy > x_energy + 0.1  # the perfect icosahedron is the deeper minimum
    assert state_key(x_energy, atoms.numbers) != state_key(q.energy, atoms.numbers)


def test_quench_restores_md_state(pt_potential, pt55):
    atoms = pt55
    engine = LammpsEngine(atoms, pt_potential)
    engine.thermalize(500.0, seed=1)
    engine.run(50, Langevin(500.0, seed=2))
    x, v = engine.get_positions(), engine.get_velocities()
    result = quench(engine)
    assert result.fmax <= 1e-3
    np.testing.assert_array_equal(engine.get_positions(), x)
    np.testing.assert_array_equal(engine.get_velocities(), v)


def test_the_radial_fingerprint_never_tells_one_minimum_apart(pt55):
    """The registry's prefilter is exact: for pairs that same_state calls one minimum
    (rotated, translated, relabelled, every atom moved by up to 0.6 × the tolerance) the
    fingerprints differ by at most the tolerance; a moved surface atom is told apart."""
    rng = np.random.default_rng(4)
    x = pt55.positions
    same = 0
    for _ in range(20):
        step = rng.normal(size=x.shape)
        step *= rng.uniform(0, 0.6 * SAME_STATE_TOL, size=(len(x), 1)) / np.linalg.norm(
            step, axis=1, keepdims=True
        )
        y = Rotation.random(random_state=rng).apply(x + step) + rng.normal(size=3)
        swap = rng.choice(len(y), size=6, replace=False)  # relabel three pairs of atoms
        y[swap] = y[swap[::-1]]
        numbers = pt55.numbers
        if same_state(x, y, numbers):
            same += 1
            gap = np.abs(radial_fingerprint(x) - radial_fingerprint(y)).max()
            assert gap <= SAME_STATE_TOL + 1e-9
    assert same >= 10, "most such pairs are one minimum"
    moved = x.copy()
    out = x[0] - x.mean(0)
    moved[0] += 2.0 * out / np.linalg.norm(out)
    assert np.abs(radial_fingerprint(x) - radial_fingerprint(moved)).max() > SAME_STATE_TOL


def test_a_minimum_is_recognised_after_its_atoms_exchange_places(disordered_pt55):
    """Up to any relabelling (the splicing registry's test), a revisited minimum whose atoms
    have all been relabelled (a hot cluster diffuses) is one state at any orientation; its
    mirror image, equal in energy and in every pair distance, is not (proper rotations)."""
    rng = np.random.default_rng(11)
    x, numbers = disordered_pt55.positions, disordered_pt55.numbers
    recognised = 0
    for _ in range(10):
        perm = rng.permutation(len(x))
        y = Rotation.random(random_state=rng).apply(x[perm]) + rng.normal(size=3)
        y += rng.normal(scale=0.003, size=y.shape)  # two quenches of one basin
        recognised += same_state(x, y, numbers, relabel=True)
        mirror = y * [-1.0, 1.0, 1.0]
        assert not same_state(x, mirror, numbers, relabel=True), "an enantiomer is another"
    assert recognised == 10
