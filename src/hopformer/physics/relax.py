"""Relaxing a candidate structure (generated, hinted or hand-made) on the reference potential.

A candidate is relaxed with exactly the quench that identifies states in splicing
(:func:`hopformer.physics.states.quench`, CG + FIRE polish to fmax 1e-3 eV/Å): two minimisers
can fall into different basins from one start, so one minimiser is used everywhere
(DESIGN.md §6). A candidate that cannot give a physical minimum is rejected with a reason,
never raised, so a batch of candidates always completes:

* ``overlap``  — two atoms closer than ``min_distance`` before relaxing (EAM tables are clamped
  at short range; such a start says nothing about the basin it came from);
* ``unconverged`` — the quench did not reach ``fmax``;
* ``fragmented`` — after relaxing, some atom has no neighbour within ``bond_distance``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase import Atoms
from scipy.spatial.distance import pdist, squareform

from hopformer.physics.engine import Engine
from hopformer.physics.states import QUENCH_FMAX, quench
from hopformer.physics.structure import OverlapError, check_overlaps

OK = "ok"


@dataclass(frozen=True)
class Relaxed:
    """Outcome of :func:`relax_candidate`: ``status`` is ``"ok"`` or the rejection reason;
    ``positions`` (N, 3) and ``energy`` (eV) are set only when ok."""

    status: str
    positions: np.ndarray | None = None
    energy: float | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == OK


CANDIDATE_MIN_DISTANCE = 1.0  # Å


def start_problem(positions: np.ndarray, min_distance: float = CANDIDATE_MIN_DISTANCE,
                  numbers: np.ndarray | None = None) -> str:  # fmt: skip
    """Why ``positions`` cannot be relaxed or evaluated as they are ('' when they can):
    non-finite coordinates, or two atoms closer than ``min_distance`` Å."""
    positions = np.asarray(positions, dtype=float)
    if not np.all(np.isfinite(positions)):
        return "non-finite coordinates"
    try:
        check_overlaps(Atoms(numbers=numbers, positions=positions), min_distance)
    except OverlapError as exc:
        return f"overlapping atoms ({exc})"
    return ""


def relax_candidate(
    engine: Engine,
    positions: np.ndarray,
    fmax: float = QUENCH_FMAX,
    min_distance: float = CANDIDATE_MIN_DISTANCE,
    bond_distance: float = 3.6,
    max_steps: int = 20_000,
) -> Relaxed:
    """Quench ``positions`` (N, 3, Å) on ``engine``'s potential; see the module doc."""
    positions = np.asarray(positions, dtype=float)
    problem = start_problem(positions, min_distance)
    if problem:
        return Relaxed("overlap", detail=problem)
    try:
        result = quench(engine, positions, fmax=fmax, max_steps=max_steps, restore=False)
    except RuntimeError as exc:
        return Relaxed("unconverged", detail=str(exc))
    x = result.positions
    if len(x) > 1:
        dist = squareform(pdist(x))
        np.fill_diagonal(dist, np.inf)
        lonely = np.flatnonzero(dist.min(1) > bond_distance)
        if lonely.size:
            return Relaxed("fragmented", detail=f"atoms {lonely.tolist()} left the cluster")
    return Relaxed(OK, x, float(result.energy))
