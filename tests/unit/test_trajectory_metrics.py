"""Trajectory metrics against cases with known answers (fcc crystal, random walk, oscillator,
Maxwell–Boltzmann velocities, an atom across the periodic boundary)."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk

from hopformer.physics.engine import maxwell_boltzmann
from hopformer.physics.structure import minimum_image
from hopformer.surrogates.metrics import (
    diffusion_coefficient,
    internal_motion,
    longest_wave_share,
    msd,
    pair_distribution,
    position_error,
    rdf,
    rdf_l1,
    spectrum_peak,
    stable_horizon,
    temperature,
    unwrap,
    vacf,
    vibrational_spectrum,
)

A_AL = 4.05  # Å


@pytest.fixture
def al256():
    return bulk("Al", "fcc", a=A_AL, cubic=True).repeat(4)


def test_an_atom_across_the_boundary_is_a_small_error_not_a_cell_length(al256):
    cell = al256.cell.array
    ref = al256.positions.copy()
    pred = ref.copy()
    pred[0] += cell[0] - np.array([0.01, 0.0, 0.0])  # the same atom, 1 pm off, one image over
    err = position_error(pred[None], ref[None], cell)[0]
    assert err == pytest.approx(0.01 / np.sqrt(len(ref)), rel=1e-9)
    assert position_error(pred[None], ref[None])[0] > 1.0, "without the cell it is far"
    skewed = np.array([[4.0, 0.0, 0.0], [3.9, 1.0, 0.0], [0.0, 0.0, 5.0]])
    d = minimum_image(np.array([0.1, 0.95, 0.0]), skewed)
    assert np.linalg.norm(d) < 0.6, d


def test_rdf_of_an_fcc_crystal_peaks_at_the_nearest_neighbour_with_12_neighbours(al256):
    r, g = rdf(al256.positions[None], al256.cell.array, r_max=7.5, bins=300)
    assert r[np.argmax(g)] == pytest.approx(A_AL / np.sqrt(2), abs=0.03)
    density = len(al256) / al256.get_volume()
    dr = r[1] - r[0]
    first_shell = r < 0.5 * (A_AL / np.sqrt(2) + A_AL)
    shell = 4 / 3 * np.pi * ((r + dr / 2) ** 3 - (r - dr / 2) ** 3)
    coordination = (g * density * shell)[first_shell].sum() * (len(al256) - 1) / len(al256)
    assert coordination == pytest.approx(12.0, abs=1e-9)
    assert rdf_l1(g, g, r) == 0.0
    with pytest.raises(ValueError, match="half the cell"):
        rdf(al256.positions[None], al256.cell.array, r_max=9.0)


def test_msd_of_a_wrapped_random_walk_gives_its_diffusion_coefficient(al256):
    cell = al256.cell.array
    rng = np.random.default_rng(0)
    d_true, dt = 0.02, 1.0  # Å²/fs, fs
    steps = rng.normal(scale=np.sqrt(2 * d_true * dt), size=(2000, 64, 3))
    walk = np.cumsum(steps, axis=0)
    wrapped = walk - np.floor(walk @ np.linalg.inv(cell)) @ cell
    unwrapped = unwrap(wrapped, cell)
    np.testing.assert_allclose(unwrapped - unwrapped[0], walk - walk[0], atol=1e-9)
    m = msd(unwrapped, max_lag=200)
    assert m[0] == 0.0
    assert diffusion_coefficient(m, dt) == pytest.approx(d_true, rel=0.05)


def test_vacf_spectrum_of_an_oscillator_peaks_at_its_frequency():
    dt, nu_thz = 1.0, 7.0  # fs, THz (an Al-like phonon)
    t = np.arange(4000) * dt
    phases = np.random.default_rng(1).uniform(0, 2 * np.pi, size=(50, 3))
    v = np.cos(2 * np.pi * nu_thz * 1e-3 * t[:, None, None] + phases)
    c = vacf(v, max_lag=1000)
    assert c[0] == 1.0
    freq, power = vibrational_spectrum(c, dt)
    assert freq[np.argmax(power)] == pytest.approx(nu_thz, rel=0.01)


def test_temperature_of_maxwell_boltzmann_velocities(al256):
    atoms = al256.repeat(2)
    v_ase = maxwell_boltzmann(atoms, 600.0, seed=3)  # Å per ASE time unit
    import ase.units

    v = v_ase * ase.units.fs  # Å/fs
    assert temperature(v, atoms.get_masses()) == pytest.approx(600.0, rel=0.05)


def test_stable_horizon_finds_the_first_broken_frame(al256):
    x = np.repeat(al256.positions[None], 10, axis=0)
    v = np.zeros_like(x)
    masses = al256.get_masses()
    assert stable_horizon(x, v, masses, 2.0, 300.0, al256.cell.array) == 20.0
    x[6, 1] = x[6, 0] + [0.5, 0.0, 0.0]
    assert stable_horizon(x, v, masses, 2.0, 300.0, al256.cell.array) == 12.0


def test_spectrum_peak_finds_the_vibration_beside_a_diffusive_background():
    dt, nu_thz = 2.0, 4.3
    t = np.arange(3000) * dt
    rng = np.random.default_rng(5)
    phases = rng.uniform(0, 2 * np.pi, size=(40, 3))
    drift = rng.normal(size=(40, 3)) * 1.5  # a liquid-like zero-frequency part, larger
    v = np.cos(2 * np.pi * nu_thz * 1e-3 * t[:, None, None] + phases) + drift
    freq, power = vibrational_spectrum(vacf(v, max_lag=600), dt)
    assert freq[np.argmax(power)] < 0.5, "the diffusive part dominates the raw maximum"
    assert spectrum_peak(freq, power) == pytest.approx(nu_thz, rel=0.005)


def test_pair_distribution_of_a_rigid_cluster():
    square = np.array([[0.0, 0, 0], [2.75, 0, 0], [0, 2.75, 0], [2.75, 2.75, 0]])  # diag. 3.89
    r, p = pair_distribution(np.stack([square, square + 5.0]), 6.0, 60)
    assert (p * (r[1] - r[0])).sum() == pytest.approx(1.0)
    edge, diagonal = r[np.argsort(p)[-2:]]
    assert sorted([edge, diagonal]) == pytest.approx([2.75, 3.85], abs=1e-9)
    assert p[np.argmin(abs(r - 2.75))] == pytest.approx(2 * p[np.argmin(abs(r - 3.85))])


def test_a_spinning_drifting_cluster_has_no_internal_motion_and_a_vibrating_one_no_spin():
    rng = np.random.default_rng(3)
    x = rng.normal(scale=2.0, size=(2, 9, 3))
    masses = np.array([195.0] * 4 + [27.0] * 5)
    r = x - (masses[:, None] * x).sum(1, keepdims=True) / masses.sum()
    spin = np.cross(np.array([0.01, -0.02, 0.005]), r) + np.array([0.003, 0.0, 0.001])
    internal, share = internal_motion(x, spin, masses)
    np.testing.assert_allclose(internal, 0.0, atol=1e-14)
    np.testing.assert_allclose(share, 1.0)
    # two atoms of each pair moving apart along their bond: a breathing vibration, no torque
    pair = np.zeros((1, 2, 3))
    pair[0, :, 0] = [-1.0, 1.0]
    v = np.zeros((1, 2, 3))
    v[0, :, 0] = [-0.01, 0.01]
    internal, share = internal_motion(pair, v + 0.002, np.array([63.5, 63.5]))
    np.testing.assert_allclose(internal, v, atol=1e-15)
    assert share[0] == pytest.approx(0.0, abs=1e-15)


def test_thermal_velocities_give_the_longest_waves_their_equipartition_share(al256):
    import ase.units

    masses, cell = al256.get_masses(), al256.cell.array
    frames = [maxwell_boltzmann(al256, 300.0, seed=s) * ase.units.fs for s in range(40)]
    x = np.broadcast_to(al256.positions, (40, 256, 3))
    share = longest_wave_share(x, np.array(frames), masses, cell, 300.0)
    assert share == pytest.approx(1.0, abs=0.15), share  # 240 samples of |j(k)|²


def test_a_wave_the_length_of_the_cell_carries_its_whole_motion(al256):
    """v_i = A ẑ cos(k·x_i), k = 2π/L along y: j(±k) = √m A N/2 for two of the six longest
    waves, so the mean |j|²/N is m A² N/12 while 3 k_B T = m A²/2: a share of N/6."""
    from hopformer.surrogates.metrics import K_B_AMU_A2_FS2, temperature

    masses, cell, x = al256.get_masses(), al256.cell.array, al256.positions
    v = np.zeros_like(x)
    v[:, 2] = 0.01 * np.cos(2 * np.pi * x[:, 1] / cell[1, 1])
    t = temperature(v, masses)
    assert t == pytest.approx(masses[0] * 0.01**2 / 2 / 3 / K_B_AMU_A2_FS2, rel=1e-9)
    assert longest_wave_share(x[None], v[None], masses, cell, t) == pytest.approx(256 / 6)
    assert np.isnan(longest_wave_share(x[None], 0 * v[None], masses, cell, 0.0)), "no motion"
