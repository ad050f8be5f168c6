"""Harmonic transition-state theory: Hessians, normal modes, the Vineyard prefactor, rates.

k(T) = ν · exp(−E_a / k_B T) with the Vineyard prefactor (G. H. Vineyard, J. Phys. Chem. Solids
3, 121 (1957))

    ν = Π_{i=1}^{3N−z} ν_i(minimum) / Π_{i=1}^{3N−z−1} ν_i(saddle),

where the ν_i are the real normal-mode frequencies; the ``z`` zero modes (six for a free
cluster: three translations, three rotations) are left out of both products, and so is the
saddle's one imaginary mode. A saddle with other than exactly one imaginary mode is not a
first-order saddle, and :func:`vineyard` says so instead of returning a number.

Units: positions Å, energies eV, masses amu; frequencies in THz (1/ps), rates in 1/ps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hopformer.physics.engine import Engine

K_B = 8.617333262e-5  # eV/K
# sqrt(eV / (amu Å²)) in rad/s, divided by 2π and 1e12: ν in THz for ω² in eV/(amu Å²).
THZ_PER_SQRT_EV_AMU_A2 = math.sqrt(1.602176634e-19 / (1.66053906660e-27 * 1e-20)) / (2e12 * math.pi)


def hessian(engine: Engine, positions: np.ndarray, delta: float = 5e-3) -> np.ndarray:
    """(3N, 3N) Hessian, eV/Å², by central differences of the forces (symmetrised)."""
    x0 = np.asarray(positions, dtype=float)
    n = x0.size
    h = np.empty((n, n))
    for k in range(n):
        step = np.zeros(n)
        step[k] = delta
        engine.set_positions((x0.ravel() + step).reshape(x0.shape))
        f_plus = engine.forces().ravel()
        engine.set_positions((x0.ravel() - step).reshape(x0.shape))
        f_minus = engine.forces().ravel()
        h[k] = -(f_plus - f_minus) / (2 * delta)
    engine.set_positions(x0)
    return 0.5 * (h + h.T)


def frequencies(
    h: np.ndarray, masses: np.ndarray, positions: np.ndarray | None = None
) -> np.ndarray:
    """Normal-mode frequencies (THz), ascending; an imaginary mode is returned negative.

    With ``positions``, the six rigid-body modes of a free cluster (three translations, three
    rotations about the centre of mass) are projected out of the mass-weighted Hessian first,
    so they come out exactly zero. Without it, at a point whose forces are not zero (a saddle
    from a band relaxed to 0.02 eV/Å) the rotations carry ~F/r curvature — about 0.04 THz for
    Pt55 — which is as large as a real soft mode.
    """
    m = np.repeat(np.asarray(masses, dtype=float), 3)
    hw = h / np.sqrt(m)[:, None] / np.sqrt(m)[None, :]
    if positions is not None:
        basis = _rigid_body_basis(np.asarray(positions, dtype=float), m)
        proj = np.eye(len(m)) - basis @ basis.T
        hw = proj @ hw @ proj
    w2 = np.linalg.eigvalsh(0.5 * (hw + hw.T))
    return np.sign(w2) * np.sqrt(np.abs(w2)) * THZ_PER_SQRT_EV_AMU_A2


def _rigid_body_basis(x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Orthonormal (3N, ≤6) basis of rigid translations and rotations, mass-weighted."""
    sqrt_m = np.sqrt(m).reshape(-1, 3)
    com = (x * sqrt_m**2).sum(0) / (sqrt_m[:, 0] ** 2).sum()
    r = x - com
    vectors = []
    for axis in np.eye(3):
        vectors.append((sqrt_m * axis).ravel())
        vectors.append((sqrt_m * np.cross(axis, r)).ravel())
    u, sv, _ = np.linalg.svd(np.array(vectors).T, full_matrices=False)
    return u[:, sv > 1e-8 * sv.max()]


@dataclass(frozen=True)
class Vineyard:
    """Outcome of :func:`vineyard`: ``prefactor`` (THz) is None unless the saddle is first
    order; ``imaginary`` counts the saddle's imaginary modes beyond the zero modes."""

    prefactor: float | None
    imaginary: int
    reason: str = ""


def vineyard(
    freq_min: np.ndarray, freq_saddle: np.ndarray, zero_modes: int = 6, zero_tol: float = 0.01
) -> Vineyard:
    """Vineyard prefactor from the two spectra (see module doc). The ``zero_modes`` modes of
    smallest |ν| are dropped from each; any remaining mode below −``zero_tol`` THz counts as
    imaginary, and one in (−zero_tol, zero_tol) as too soft for a harmonic rate. Spectra from
    :func:`frequencies` with ``positions`` have the rigid-body modes at exactly zero, so the
    tolerance only has to absorb finite-difference noise (a disordered Pt55's softest real
    vibration measured 0.03–0.2 THz)."""
    fm = _drop_zero_modes(np.asarray(freq_min, dtype=float), zero_modes)
    fs = _drop_zero_modes(np.asarray(freq_saddle, dtype=float), zero_modes)
    if (fm < zero_tol).any():
        return Vineyard(None, 0, f"the minimum has {(fm < zero_tol).sum()} non-positive mode(s)")
    imaginary = int((fs < -zero_tol).sum())
    if imaginary != 1:
        return Vineyard(None, imaginary, f"the saddle has {imaginary} imaginary modes, not 1")
    real = np.sort(fs)[1:]
    if (real < zero_tol).any():
        return Vineyard(None, imaginary, "the saddle has a soft mode besides the zero modes")
    log_nu = np.log(fm).sum() - np.log(real).sum()
    return Vineyard(float(np.exp(log_nu)), imaginary)


def _drop_zero_modes(freq: np.ndarray, zero_modes: int) -> np.ndarray:
    if zero_modes == 0:
        return np.sort(freq)
    keep = np.argsort(np.abs(freq))[zero_modes:]
    return np.sort(freq[keep])


def htst_rate(prefactor: float, barrier: float, temperature: float) -> float:
    """k = ν exp(−E_a / k_B T), 1/ps (ν in THz, E_a in eV, T in K)."""
    return prefactor * math.exp(-barrier / (K_B * temperature))
