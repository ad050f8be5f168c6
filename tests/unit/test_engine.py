"""Engines against independent physics: ASE's EAM, finite differences, energy conservation."""

from __future__ import annotations

import numpy as np
import pytest
from ase import units
from ase.build import bulk
from ase.calculators.eam import EAM

from hopformer.physics.clusters import build_cluster
from hopformer.physics.engine import NVE, Langevin
from hopformer.physics.lammps_engine import LammpsEAM, LammpsEngine
from hopformer.physics.potentials import open_engine, score
from hopformer.physics.structure import OverlapError, minimum_image


@pytest.fixture
def rattled_pt55(pt55):
    atoms = pt55
    atoms.positions += np.random.default_rng(0).normal(scale=0.08, size=atoms.positions.shape)
    return atoms


def test_lammps_matches_ase_eam(pt_potential, rattled_pt55):
    engine = LammpsEngine(rattled_pt55, pt_potential)
    reference = rattled_pt55.copy()
    reference.calc = EAM(potential=str(pt_potential))
    assert engine.energy() == pytest.approx(reference.get_potential_energy(), abs=1e-6)
    np.testing.assert_allclose(engine.forces(), reference.get_forces(), atol=1e-5)


def test_forces_are_minus_energy_gradient(pt_potential, rattled_pt55):
    engine = LammpsEngine(rattled_pt55, pt_potential)
    x0 = rattled_pt55.get_positions()
    engine.set_positions(x0)
    forces = engine.forces()
    h = 1e-4
    for atom in (0, 17, 54):
        for axis in range(3):
            energies = []
            for sign in (1, -1):
                x = x0.copy()
                x[atom, axis] += sign * h
                engine.set_positions(x)
                energies.append(engine.energy())
            fd = -(energies[0] - energies[1]) / (2 * h)
            assert forces[atom, axis] == pytest.approx(fd, abs=1e-5)


def test_nve_pt55_conserves_energy(pt_potential, pt55):
    """10 ps of NVE at 300 K, 2 fs steps: total-energy drift below 1 meV/atom."""
    atoms = pt55
    engine = LammpsEngine(atoms, pt_potential)
    engine.minimize()
    engine.thermalize(2 * 300.0, seed=11)  # equipartition halves it
    total, temps = [], []
    for _ in range(50):
        engine.run(100, NVE(timestep_fs=2.0))
        total.append(engine.energy() + engine.kinetic_energy())
        temps.append(engine.kinetic_energy() / (1.5 * (len(atoms) - 2) * units.kB))
    total = np.array(total)
    drift = np.abs(total - total[0]).max() / len(atoms)
    assert drift < 1e-3
    assert np.mean(temps[5:]) == pytest.approx(300.0, rel=0.15)  # it really ran at 300 K


def test_langevin_is_seeded_and_thermostats(pt_potential, pt55):
    atoms = pt55

    def trajectory(seed):
        engine = LammpsEngine(atoms, pt_potential)
        engine.thermalize(700.0, seed=1)
        temps = []
        for _ in range(40):
            engine.run(250, Langevin(700.0, timestep_fs=2.0, damping_fs=100.0, seed=seed))
            temps.append(engine.kinetic_energy() / (1.5 * len(atoms) * units.kB))
        return engine.get_positions(), np.mean(temps[8:])

    a, temp = trajectory(5)
    b, _ = trajectory(5)
    c, _ = trajectory(6)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 0.1
    assert temp == pytest.approx(700.0, rel=0.1)


def test_forces_during_langevin_md_are_the_potentials_only(pt_potential, pt55):
    """fix langevin adds friction and noise to LAMMPS's f; forces() must not report them,
    and dropping the thermostat for a quench leaves the first block's trajectory as it was."""
    engine = LammpsEngine(pt55, pt_potential)
    engine.thermalize(900.0, seed=2)
    md = Langevin(900.0, seed=3)
    engine.run(200, md)
    x = engine.get_positions()
    reference = LammpsEngine(pt55, pt_potential)
    reference.set_positions(x)
    np.testing.assert_allclose(engine.forces(), reference.forces(), atol=1e-10)

    def block_displacements(quench_between):
        e = LammpsEngine(pt55, pt_potential)
        e.thermalize(900.0, seed=2)
        out = []
        for _ in range(3):
            x0 = e.get_positions()
            e.run(50, md)
            out.append(e.get_positions() - x0)
            if quench_between:
                saved = e.get_positions(), e.get_velocities()
                e.minimize(fmax=1e-2)
                e.set_positions(saved[0])
                e.set_velocities(saved[1])
        return out

    plain, quenched = block_displacements(False), block_displacements(True)
    np.testing.assert_allclose(quenched[0], plain[0], atol=1e-12)  # same seed, same first block
    assert all(np.isfinite(d).all() and np.abs(d).max() < 1.0 for d in quenched)


def test_positions_and_velocities_round_trip(pt_potential, rattled_pt55):
    engine = LammpsEngine(rattled_pt55, pt_potential)
    x = rattled_pt55.get_positions() + 3.0  # moved far: the shrink-wrapped box follows
    v = np.random.default_rng(2).normal(size=x.shape) * 0.01
    engine.set_positions(x)
    engine.set_velocities(v)
    np.testing.assert_allclose(engine.get_positions(), x, atol=1e-12)
    np.testing.assert_allclose(engine.get_velocities(), v, atol=1e-12)
    check = rattled_pt55.copy()
    check.set_velocities(v)
    assert engine.kinetic_energy() == pytest.approx(check.get_kinetic_energy(), rel=1e-12)


def test_periodic_triclinic_cell_equals_cubic(pt_potential):
    cubic = bulk("Pt", "fcc", a=3.95, cubic=True).repeat(3)
    primitive = bulk("Pt", "fcc", a=3.95).repeat(4)
    e_cubic = LammpsEngine(cubic, pt_potential).energy() / len(cubic)
    tri = LammpsEngine(primitive, pt_potential)
    assert tri.energy() / len(primitive) == pytest.approx(e_cubic, abs=1e-9)
    np.testing.assert_allclose(tri.forces(), 0.0, atol=1e-9)
    # Wrapped into the cell: an atom on a face may come back one lattice vector away.
    moved = minimum_image(tri.get_positions() - primitive.get_positions(), primitive.cell)
    np.testing.assert_allclose(moved, 0.0, atol=1e-9)


def test_minimize_reaches_fmax(pt_potential, rattled_pt55):
    engine = LammpsEngine(rattled_pt55, pt_potential)
    e0 = engine.energy()
    result = engine.minimize(fmax=1e-4)
    assert result.converged and result.fmax <= 1e-4
    assert result.energy < e0
    assert np.sqrt((engine.forces() ** 2).sum(1)).max() <= 1e-4


def test_ase_calculator_agrees_with_engine(pt_potential, rattled_pt55):
    engine = LammpsEngine(rattled_pt55, pt_potential)
    atoms = rattled_pt55.copy()
    atoms.calc = engine.calculator()
    assert isinstance(atoms.calc, LammpsEAM)
    assert atoms.get_potential_energy() == pytest.approx(engine.energy(), abs=1e-10)
    np.testing.assert_allclose(atoms.get_forces(), engine.forces(), atol=1e-10)
    atoms.positions[3] += 0.05  # a new geometry is recomputed
    assert atoms.get_potential_energy() != pytest.approx(engine.energy(), abs=1e-6)


def test_asap3_emt_backend(rattled_pt55):
    import asap3

    engine = open_engine(rattled_pt55, "asap3:EMT")
    direct = rattled_pt55.copy()
    direct.calc = asap3.EMT()
    assert engine.energy() == pytest.approx(direct.get_potential_energy(), abs=1e-10)
    result = engine.minimize(fmax=1e-3)
    assert result.converged
    engine.thermalize(600.0, seed=3)
    e0 = engine.energy() + engine.kinetic_energy()
    engine.run(500, NVE(timestep_fs=2.0))
    assert abs(engine.energy() + engine.kinetic_energy() - e0) / len(rattled_pt55) < 1e-3
    a = engine.get_positions()
    other = open_engine(rattled_pt55, "asap3:EMT")
    other.minimize(fmax=1e-3)
    other.thermalize(600.0, seed=3)
    other.run(500, NVE(timestep_fs=2.0))
    np.testing.assert_allclose(other.get_positions(), a, atol=1e-10)


def test_asap3_gupta_backend_relaxes_pt(rattled_pt55):
    engine = open_engine(rattled_pt55, "asap3:Gupta")
    result = engine.minimize(fmax=1e-3)
    assert result.converged
    # Cleri–Rosato Pt: cohesive energy 5.77 eV in bulk; a 55-atom cluster is less bound.
    assert -5.8 < result.energy / len(rattled_pt55) < -4.5


def test_overlapping_atoms_are_rejected(pt_potential, rattled_pt55):
    atoms = rattled_pt55.copy()
    atoms.positions[7] = atoms.positions[3] + [0.3, 0.0, 0.0]
    with pytest.raises(OverlapError, match=r"atoms 3 and 7 .* 0.300 Å apart"):
        LammpsEngine(atoms, pt_potential)


def test_element_missing_from_potential(pt_potential):
    atoms = build_cluster("Au", "icosahedron", shells=2)
    with pytest.raises(ValueError, match=r"\['Au'\].*not in potential file .*Pt.eam.alloy"):
        LammpsEngine(atoms, pt_potential)


def test_unknown_potential_name(rattled_pt55, tmp_path):
    with pytest.raises(ValueError, match="unknown asap3 potential 'LJX'"):
        open_engine(rattled_pt55, "asap3:LJX")
    with pytest.raises(FileNotFoundError, match="no such file"):
        open_engine(rattled_pt55, tmp_path / "missing.eam.alloy")


def test_ase_optimizer_on_lammps_calculator_finds_engine_minimum(pt_potential, rattled_pt55):
    from ase.optimize import LBFGS

    atoms = rattled_pt55.copy()
    atoms.calc = LammpsEAM(pt_potential)
    LBFGS(atoms, logfile=None).run(fmax=1e-4, steps=2000)
    engine = LammpsEngine(rattled_pt55, pt_potential)
    result = engine.minimize(fmax=1e-4)
    assert atoms.get_potential_energy() == pytest.approx(result.energy, abs=1e-6)


def test_lammps_starts_without_library_path(pt_potential, tmp_path):
    """The libmpi pitfall is handled in code: no LD_LIBRARY_PATH, no preload needed."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "LD_PRELOAD")}
    code = (
        "from ase.build import bulk\n"
        "from hopformer.physics.lammps_engine import LammpsEngine\n"
        f"e = LammpsEngine(bulk('Pt', 'fcc', a=3.92, cubic=True), {str(pt_potential)!r})\n"
        "print(round(e.energy() / 4, 3))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "-5.77"


def test_scoring_a_blown_up_rollout_gives_nan_and_the_engine_scores_on(pt_potential, pt55):
    """Frames of a rollout that blew up score NaN (non-finite, or atoms spread over kilometres
    of Å, where a shrink-wrapped box runs out of neighbour bins); the frames after still
    score as the same structure does alone."""
    x = pt55.positions
    spread = np.random.default_rng(0).uniform(0, 1e4, x.shape)
    broken = np.full(x.shape, np.nan)
    scores = score(pt_potential, pt55.numbers, [x, spread, broken, x * 1.01])
    assert np.isnan(scores[1][0]) and np.isnan(scores[2][0]) and np.isnan(scores[2][1]).all()
    (alone,) = score(pt_potential, pt55.numbers, [x * 1.01])
    assert scores[3][0] == pytest.approx(alone[0], abs=1e-9) and np.isfinite(scores[0][0])
