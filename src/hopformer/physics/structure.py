"""Checks and small geometry helpers on ASE structures."""

from __future__ import annotations

import asap3
import numpy as np
from ase import Atoms
from ase.neighborlist import neighbor_list

MIN_DISTANCE = 0.5  # Å; no metal pair is this close in any physical structure
#: a free cluster whose box would hold more cell-list cells than this per atom is searched
#: pair by pair (:func:`neighbours`); a compact cluster holds a few per atom
SPARSE_CELLS = 64
#: a free cluster of at most this many atoms is searched pair by pair too: every distance at
#: once beats a cell list's per-atom calls up to ~300 atoms (Pt55: 0.08 against 0.35 ms, the
#: cost of every MLIP call and predictor step; docs/design.md §12)
DENSE_ATOMS = 256


class OverlapError(ValueError):
    """Two atoms closer than physically possible."""


def check_overlaps(atoms: Atoms, min_distance: float = MIN_DISTANCE, source: str = "") -> None:
    """Raise :class:`OverlapError` naming the closest pair if any pair is < ``min_distance`` Å."""
    if len(atoms) < 2:
        return
    i, j, d = neighbor_list("ijd", atoms, min_distance)
    if len(d):
        k = int(np.argmin(d))
        where = f"{source}: " if source else ""
        raise OverlapError(
            f"{where}atoms {int(i[k])} and {int(j[k])} ({atoms[int(i[k])].symbol}, "
            f"{atoms[int(j[k])].symbol}) are {d[k]:.3f} Å apart, closer than {min_distance} Å; "
            f"{len(d) // 2} overlapping pair(s) in all"
        )


def center_in_vacuum(atoms: Atoms, vacuum: float = 10.0) -> Atoms:
    """A free cluster: no pbc, centred in a box with ``vacuum`` Å on every side."""
    atoms = atoms.copy()
    atoms.pbc = False
    atoms.center(vacuum=vacuum)
    return atoms


def neighbours(
    positions: np.ndarray, cell: np.ndarray | None, cutoff: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, shifts) of every pair closer than ``cutoff``: r_ij = x_j − x_i + shifts·cell
    (``cell`` None: a free cluster, shifts 0). asap3's compiled cell list finds the pairs
    (docs/design.md §12: 20–40× faster than ASE's on Pt55 and Al108, the cost of every MLIP
    force call), except in a free cluster of up to ``DENSE_ATOMS`` atoms, where every distance
    at once is faster still; the edges are sorted by (i, j, shifts), so their order is the
    method's no more than the result is."""
    x = np.asarray(positions, dtype=float)
    n = len(x)
    if (
        cell is None
        and n
        and (n <= DENSE_ATOMS or np.prod(np.ptp(x, 0) / cutoff + 2) > SPARSE_CELLS * n)
    ):
        return _pairs_by_distance(x, cutoff)
    if cell is None:
        lo = x.min(0) - cutoff
        box = Atoms(numbers=np.ones(n, int), positions=x - lo, pbc=False)
        box.cell = np.diag(x.max(0) - lo + cutoff)
    else:
        cell = np.asarray(cell, dtype=float)
        box = Atoms(numbers=np.ones(n, int), positions=x, cell=cell, pbc=True)
    found = asap3.FullNeighborList(cutoff, box)
    lists = [found.get_neighbors(k) for k in range(n)]
    i = np.repeat(np.arange(n, dtype=np.int64), [len(js) for js, _, _ in lists])
    if not len(i):
        return i, i.copy(), np.zeros((0, 3))
    j = np.concatenate([js for js, _, _ in lists]).astype(np.int64)
    if cell is None:
        s = np.zeros((len(i), 3))
    else:
        vectors = np.concatenate([v for _, v, _ in lists])
        s = np.round((vectors - (x[j] - x[i])) @ np.linalg.inv(cell))
    order = np.lexsort((s[:, 2], s[:, 1], s[:, 0], j, i))
    return i[order], j[order], s[order] + 0.0  # + 0.0: no −0 in the shifts


def _pairs_by_distance(x: np.ndarray, cutoff: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`neighbours` of a small free cluster, or of one spread far apart (a rollout that
    blew up): every distance, in blocks of rows, whose memory grows with the atoms and not with
    the box (a cell list's grows with the box's volume: 1.3 GB for 55 atoms spread over
    1000 Å). The pairs come out sorted by (i, j), as the cell list's are."""
    i, j = [], []
    for start in range(0, len(x), 512):
        d = x[start : start + 512, None] - x[None]
        a, b = np.nonzero(np.einsum("ijk,ijk->ij", d, d) < cutoff * cutoff)
        keep = a + start != b
        i.append(a[keep] + start)
        j.append(b[keep])
    i, j = np.concatenate(i).astype(np.int64), np.concatenate(j).astype(np.int64)
    return i, j, np.zeros((len(i), 3))


def minimum_image(d: np.ndarray, cell: np.ndarray | None) -> np.ndarray:
    """Displacements ``d`` (..., 3) mapped to their shortest periodic image (None: free)."""
    if cell is None:
        return d
    cell = np.asarray(cell, dtype=float)
    frac = d @ np.linalg.inv(cell)
    frac -= np.round(frac)
    out = frac @ cell
    # For skewed cells rounding the fractional coordinates is not always the shortest image:
    # check the 27 neighbouring images.
    shifts = np.array([[i, j, k] for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)])
    candidates = out[..., None, :] + shifts @ cell
    best = np.argmin((candidates**2).sum(-1), axis=-1)
    return np.take_along_axis(candidates, best[..., None, None], axis=-2)[..., 0, :]
