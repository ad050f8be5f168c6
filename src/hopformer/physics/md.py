"""Timing reference MD, and the masses it integrates with."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from ase import Atoms, units
from ase.data import atomic_masses

from hopformer.physics.engine import NVE, Engine
from hopformer.physics.potentials import open_engine


def masses_of(numbers: np.ndarray) -> np.ndarray:
    return atomic_masses[np.asarray(numbers)]


def md_speed(
    potential: str,
    numbers: np.ndarray,
    x: np.ndarray,
    v: np.ndarray,
    cell: np.ndarray | None,
    timestep_fs: float,
    ps: float = 1.0,
    make_engine: Callable[[Atoms], Engine] | None = None,
) -> float:
    """Wall seconds per simulated ps of NVE MD on ``potential`` from (x, v), on this machine
    (after 2 untimed warm-up steps: set-up is not MD); ``make_engine`` (atoms → engine), where
    given, opens the engine in place of the potential file's own (e.g. an MLIP in float32)."""
    atoms = Atoms(numbers=numbers, positions=x, cell=cell, pbc=cell is not None)
    if cell is None:
        atoms.center(vacuum=10.0)
    engine = make_engine(atoms) if make_engine else open_engine(atoms, potential)
    try:
        engine.set_velocities(np.asarray(v, float) / units.fs)
        steps = max(1, round(ps * 1000 / timestep_fs))
        engine.run(2, NVE(timestep_fs))
        start = time.perf_counter()
        engine.run(steps, NVE(timestep_fs))
        wall = time.perf_counter() - start
    finally:
        engine.close()
    return wall / (steps * timestep_fs / 1000)
