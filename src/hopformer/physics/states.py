"""States of a cluster: quench, alignment, the state-identity test and a state key.

A *state* is the basin of a local minimum. Two configurations are in the same state when
their quenched (minimised) positions coincide after removing translation and rotation and
allowing a permutation of same-element atoms.

Tolerances (measured on Pt147, Zhou EAM; docs/design.md §3): quenched to fmax ≤ 1e-3 eV/Å with
CG + FIRE polish, two quenches of one basin differ by ≤ 0.003–0.026 Å in max atom
displacement, while distinct minima differ by ≥ 0.27 Å (most ≥ 0.56 Å). The default
threshold :data:`SAME_STATE_TOL` = 0.15 Å sits in that gap with margin on both sides.
At fmax 0.01 the quench stops up to 0.95 Å short of the minimum and the test fails, which
is why :func:`quench` defaults to 1e-3. Energy cannot serve: symmetric sites are degenerate
to 1e-10 eV.
"""

from __future__ import annotations

import hashlib

import numpy as np
from scipy.optimize import linear_sum_assignment

from hopformer.physics.engine import Engine, MinimizeResult

QUENCH_FMAX = 1e-3  # eV/Å
SAME_STATE_TOL = 0.15  # Å, max atom displacement after alignment
KEY_RESOLUTION = 1e-3  # eV, energy bin of a state key
MOVED = (
    0.5  # Å: an atom displaced more than this between minima counts as moved (docs/design.md §3)
)


def quench(
    engine: Engine,
    positions: np.ndarray | None = None,
    fmax: float = QUENCH_FMAX,
    max_steps: int = 20_000,
    restore: bool = True,
) -> MinimizeResult:
    """Minimise ``positions`` (default: the engine's current ones) to ``fmax`` eV/Å.

    With ``restore`` the engine's positions and velocities are put back afterwards, so MD can
    continue from where it was (the quench-every-block pattern of splicing).
    Raises ``RuntimeError`` if the minimiser does not reach ``fmax``.
    """
    saved = (engine.get_positions(), engine.get_velocities()) if restore else None
    if positions is not None:
        engine.set_positions(positions)
    result = engine.minimize(fmax=fmax, max_steps=max_steps)
    if saved is not None:
        engine.set_positions(saved[0])
        engine.set_velocities(saved[1])
    if not result.converged:
        raise RuntimeError(
            f"quench stopped at fmax {result.fmax:.2e} eV/Å above the {fmax:.1e} tolerance "
            f"after {result.iterations} iterations"
        )
    return result


def kabsch_rotation(ref: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Proper rotation R minimising Σ‖(other_i − c_o)R − (ref_i − c_r)‖² (rows are atoms)."""
    p = other - other.mean(0)
    q = ref - ref.mean(0)
    u, _, vt = np.linalg.svd(p.T @ q)
    d = np.sign(np.linalg.det(u @ vt))
    return u @ np.diag([1.0, 1.0, d]) @ vt


def align(ref: np.ndarray, other: np.ndarray) -> np.ndarray:
    """``other`` translated and rotated onto ``ref`` (Kabsch, equal weights), same atom order."""
    ref, other = np.asarray(ref, float), np.asarray(other, float)
    r = kabsch_rotation(ref, other)
    return (other - other.mean(0)) @ r + ref.mean(0)


def _assign(ref: np.ndarray, aligned: np.ndarray, numbers: np.ndarray) -> np.ndarray:
    """Permutation ``perm`` (other atom for each ref atom) per element, by least squares."""
    perm = np.arange(len(ref))
    for z in np.unique(numbers):
        idx = np.flatnonzero(numbers == z)
        cost = ((ref[idx, None, :] - aligned[None, idx, :]) ** 2).sum(-1)
        rows, cols = linear_sum_assignment(cost)
        perm[idx[rows]] = idx[cols]
    return perm


def match(
    ref: np.ndarray,
    other: np.ndarray,
    numbers: np.ndarray,
    max_iter: int = 6,
    relabel: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Align ``other`` onto ``ref`` allowing same-element permutations.

    Returns ``(aligned, perm)`` with ``aligned[i]`` the position of other's atom ``perm[i]``
    that corresponds to ref's atom ``i``. Alternates Kabsch and optimal assignment until the
    labelling stops changing, starting from the identity (atoms keep their indices along a
    trajectory, so most labels are right): labellings near the atoms' own, so that a
    symmetric cluster's equivalent sites (an adatom in two equivalent hollows) stay apart.

    With ``relabel`` it also starts from the atoms of each element paired in the order of
    their distance from the centroid, which needs no labels at all, and keeps the closer
    result: a minimum revisited after its atoms have exchanged places is then recognised
    (and a symmetric cluster's equivalent sites are one). Without it a 775 K Pt55 campaign
    registered 8,963 states of which ~5,000 repeated another one (same energy to 1e-8 eV,
    sorted pair distances equal to 1e-3 Å).
    """
    ref, other = np.asarray(ref, float), np.asarray(other, float)
    numbers = np.asarray(numbers)
    if ref.shape != other.shape or ref.shape != (len(numbers), 3):
        raise ValueError(
            f"match: shapes differ: ref {ref.shape}, other {other.shape}, numbers {numbers.shape}"
        )
    best = None
    starts = [np.arange(len(ref))] + ([_radial_labelling(ref, other, numbers)] if relabel else [])
    for start in starts:
        aligned, perm = _refine(ref, other, numbers, start, max_iter)
        d = max_displacement(ref, aligned)
        if best is None or d < best[0]:
            best = (d, aligned, perm)
    return best[1], best[2]


def _radial_labelling(ref: np.ndarray, other: np.ndarray, numbers: np.ndarray) -> np.ndarray:
    """other's atom for each of ref's atoms, pairing same-element atoms by radial rank."""
    perm = np.arange(len(ref))
    r_ref = np.linalg.norm(ref - ref.mean(0), axis=1)
    r_other = np.linalg.norm(other - other.mean(0), axis=1)
    for z in np.unique(numbers):
        idx = np.flatnonzero(numbers == z)
        perm[idx[np.argsort(r_ref[idx], kind="stable")]] = idx[
            np.argsort(r_other[idx], kind="stable")
        ]
    return perm


def _refine(
    ref: np.ndarray, other: np.ndarray, numbers: np.ndarray, perm: np.ndarray, max_iter: int
) -> tuple[np.ndarray, np.ndarray]:
    aligned = align(ref, other[perm])
    for _ in range(max_iter):
        step = _assign(ref, aligned, numbers)  # indexes the current (permuted) order
        if np.array_equal(step, np.arange(len(ref))):
            break
        perm = perm[step]
        aligned = align(ref, other[perm])
    return aligned, perm


def max_displacement(a: np.ndarray, b: np.ndarray) -> float:
    """Largest single-atom distance between two configurations in the same order (Å)."""
    return float(np.sqrt(((np.asarray(a) - np.asarray(b)) ** 2).sum(1)).max())


def hyperdistance(a: np.ndarray, b: np.ndarray) -> float:
    """‖a − b‖ over all atoms (Å)."""
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)))


def state_distance(
    a: np.ndarray, b: np.ndarray, numbers: np.ndarray, relabel: bool = False
) -> float:
    """Max atom displacement between two minima modulo translation, rotation and permutation
    (labellings near the atoms' own, or any with ``relabel``: :func:`match`)."""
    aligned, _ = match(a, b, numbers, relabel=relabel)
    return min(max_displacement(a, aligned), max_displacement(a, align(a, b)))


def same_state(
    a: np.ndarray,
    b: np.ndarray,
    numbers: np.ndarray,
    tol: float = SAME_STATE_TOL,
    relabel: bool = False,
) -> bool:
    """True if quenched configurations ``a`` and ``b`` are the same minimum (see module doc;
    ``relabel``: up to any relabelling, :func:`match`)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if max_displacement(a, align(a, b)) <= tol:  # the common case: same labels
        return True
    return state_distance(a, b, numbers, relabel) <= tol


def radial_fingerprint(x: np.ndarray) -> np.ndarray:
    """The atoms' distances from their centroid, sorted: invariant to translation, rotation
    and permutation. If two configurations are one minimum by :func:`same_state` (some
    labelling puts every atom within ``tol`` of its partner after centroid-to-centroid
    alignment), their fingerprints differ by at most ``tol`` entry by entry, so a larger
    difference tells them apart without the geometric test (a cheap, exact prefilter)."""
    x = np.asarray(x, float)
    return np.sort(np.linalg.norm(x - x.mean(0), axis=1))


def same_minimum(
    a: np.ndarray,
    energy_a: float,
    b: np.ndarray,
    energy_b: float,
    numbers: np.ndarray,
    tol: float = SAME_STATE_TOL,
    energy_tol: float = 0.05,
) -> bool:
    """:func:`same_state` for minima of known energy: two minima more than ``energy_tol`` eV
    apart are told apart without the (permutation-aware) geometric test."""
    return abs(energy_a - energy_b) < energy_tol and same_state(a, b, numbers, tol)


def state_key(energy: float, numbers: np.ndarray, resolution: float = KEY_RESOLUTION) -> str:
    """A short (16 hex digits) bookkeeping key of a minimum: composition and quenched energy.

    Invariant to translation, rotation and permutation. The energy of one minimum, quenched to
    fmax 1e-3, is reproducible to ~1e-6 eV, so with ``resolution`` = 1 meV a minimum lands in a
    different bin only when its energy sits within 1e-6 eV of a bin edge (≈ 0.2 %); look up
    the neighbouring bins too (:func:`neighbour_keys`). Distinct minima may share a key
    (symmetric sites are degenerate to 1e-10 eV), so a key is a bucket; :func:`same_state`
    decides identity. A bond-graph hash was tried first and split quenches of one disordered
    Pt55 minimum into different keys (bond lengths near any cutoff).
    """
    return _key(composition(numbers), _energy_bin(energy, resolution))


def neighbour_keys(
    energy: float, numbers: np.ndarray, resolution: float = KEY_RESOLUTION
) -> list[str]:
    """Keys of the bin of ``energy`` and of its two neighbours (for lookups)."""
    b = _energy_bin(energy, resolution)
    comp = composition(numbers)
    return [_key(comp, b + d) for d in (0, -1, 1)]


def composition(numbers: np.ndarray) -> str:
    z, counts = np.unique(np.asarray(numbers), return_counts=True)
    return "".join(f"{int(a)}x{int(c)}." for a, c in zip(z, counts, strict=True))


def _energy_bin(energy: float, resolution: float) -> int:
    return round(float(energy) / resolution)


def _key(comp: str, energy_bin: int) -> str:
    return hashlib.blake2b(f"{comp}{energy_bin}".encode(), digest_size=8).hexdigest()
