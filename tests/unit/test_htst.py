"""Harmonic TST: finite-difference Hessians, normal modes, the Vineyard prefactor."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hopformer.physics.htst import (
    K_B,
    THZ_PER_SQRT_EV_AMU_A2,
    frequencies,
    hessian,
    htst_rate,
    vineyard,
)
from hopformer.physics.potentials import open_engine


class Quadratic:
    """E = ½ (x − a)ᵀ K (x − a) in a rotated frame: an analytic harmonic 'engine'."""

    def __init__(self, curvatures, rotation):
        self.k = rotation @ np.diag(curvatures) @ rotation.T
        self.x = np.zeros((len(curvatures) // 3, 3))

    def set_positions(self, x):
        self.x = np.array(x, dtype=float)

    def forces(self):
        return -(self.k @ self.x.ravel()).reshape(self.x.shape)


def test_vineyard_prefactor_of_a_harmonic_case_matches_the_analytic_value():
    rng = np.random.default_rng(0)
    rotation, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    mass = 195.08
    k_min = np.array([1.0, 2.0, 3.5, 0.7, 4.0, 2.2])  # eV/Å²
    k_sad = np.array([-1.3, 2.5, 3.0, 0.9, 4.0, 1.1])  # one negative curvature
    spectra = []
    for k in (k_min, k_sad):
        h = hessian(Quadratic(k, rotation), np.zeros((2, 3)))
        assert np.allclose(h, rotation @ np.diag(k) @ rotation.T, atol=1e-9)
        spectra.append(frequencies(h, np.full(2, mass)))
    analytic = (
        THZ_PER_SQRT_EV_AMU_A2 * np.prod(np.sqrt(k_min / mass)) / np.prod(np.sqrt(k_sad[1:] / mass))
    )
    result = vineyard(*spectra, zero_modes=0)
    assert result.imaginary == 1
    assert result.prefactor == pytest.approx(analytic, rel=1e-9)
    # Not a first-order saddle: said, not computed.
    two = frequencies(
        rotation @ np.diag(k_sad * [1, -1, 1, 1, 1, 1]) @ rotation.T, np.full(2, mass)
    )
    bad = vineyard(spectra[0], two, zero_modes=0)
    assert bad.prefactor is None and bad.imaginary == 2 and "2 imaginary" in bad.reason
    assert htst_rate(2.0, 0.5, 700.0) == pytest.approx(2.0 * math.exp(-0.5 / (K_B * 700.0)))


def test_a_free_pt55_minimum_has_six_zero_modes_and_phonons_in_the_pt_range(
    pt_potential, disordered_pt55
):
    engine = open_engine(disordered_pt55, pt_potential)
    hessian_of = hessian(engine, disordered_pt55.positions)
    freq = frequencies(hessian_of, disordered_pt55.get_masses())
    engine.close()
    small = np.sort(np.abs(freq))
    # Translations and rotations come out at ~0.004 THz; the softest vibration of this
    # disordered cluster is ~0.2 THz.
    assert small[5] < 0.02 and small[6] > 0.1, small[:8]
    # Projecting out the rigid-body modes makes them exact zeros and leaves the vibrations.
    projected = frequencies(hessian_of, disordered_pt55.get_masses(), disordered_pt55.positions)
    p_small = np.sort(np.abs(projected))
    assert p_small[5] < 1e-5, p_small[:7]
    np.testing.assert_allclose(p_small[6:], small[6:], rtol=1e-3)
    # Bulk Pt phonons reach ~6 THz; a cluster's stiffest modes are of that order.
    assert 4.0 < freq.max() < 9.0
    assert freq[np.argsort(np.abs(freq))[6:]].min() > 0, "a minimum: no imaginary mode"
