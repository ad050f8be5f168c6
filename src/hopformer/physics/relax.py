"""Relaxing a candidate structure (generated, hinted or hand-made) on the reference potential.

A candidate is relaxed with exactly the quench that identifies states in splicing
(:func:`hopformer.physics.states.quench`, CG + FIRE polish to fmax 1e-3 eV/Å): two minimisers
can fall into different basins from one start, so one minimiser is used everywhere
(docs/design.md §6). A candidate that cannot give a physical minimum is rejected with a reason,
never raised, so a batch of candidates always completes:

* ``overlap``  — two atoms closer than ``min_distance`` before relaxing (EAM tables are clamped
  at short range; such a start says nothing about the basin it came from);
* ``unconverged`` — the quench did not reach ``fmax``;
* ``fragmented`` — after relaxing, some atom has no neighbour within ``bond_distance``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from scipy.spatial.distance import pdist, squareform

from hopformer.physics.engine import Engine
from hopformer.physics.potentials import open_engine
from hopformer.physics.states import QUENCH_FMAX, SAME_STATE_TOL, quench, same_state
from hopformer.physics.structure import OverlapError, center_in_vacuum, check_overlaps

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


def start_problem(
    positions: np.ndarray,
    min_distance: float = CANDIDATE_MIN_DISTANCE,
    numbers: np.ndarray | None = None,
) -> str:
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


class Relaxer:
    """Relaxes candidates on the reference potential and compares minima: one quench and one
    identity test everywhere. Keeps one engine per composition (atom order included)."""

    def __init__(
        self,
        potential: str | os.PathLike,
        fmax: float = QUENCH_FMAX,
        tol: float = SAME_STATE_TOL,
        vacuum: float = 10.0,
    ):
        self.potential, self.fmax, self.tol, self.vacuum = potential, fmax, tol, vacuum
        self._engines: dict[tuple[int, ...], Engine] = {}

    def engine(self, numbers: np.ndarray, positions: np.ndarray) -> Engine:
        key = tuple(int(z) for z in numbers)
        if key not in self._engines:
            atoms = center_in_vacuum(Atoms(numbers=numbers, positions=positions), self.vacuum)
            self._engines[key] = open_engine(atoms, self.potential)
        return self._engines[key]

    def relax(self, positions: np.ndarray, numbers: np.ndarray) -> Relaxed:
        return relax_candidate(self.engine(numbers, positions), positions, fmax=self.fmax)

    def energy(self, positions: np.ndarray, numbers: np.ndarray) -> float:
        engine = self.engine(numbers, positions)
        engine.set_positions(positions)
        return float(engine.energy())

    def same(self, a: np.ndarray, b: np.ndarray, numbers: np.ndarray) -> bool:
        return same_state(a, b, numbers, self.tol)

    def close(self) -> None:
        for engine in self._engines.values():
            engine.close()
        self._engines.clear()
