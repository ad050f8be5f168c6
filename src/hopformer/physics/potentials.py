"""Choosing a backend from a potential: EAM files run in LAMMPS, asap3 names in asap3, and
other kinds through a registry of plugins.

A potential is named by a string: a path to a setfl/funcfl file (EAM → LAMMPS),
``"asap3:EMT"`` / ``"asap3:Gupta"`` (asap3's own potentials, through ASE), or anything a
registered plugin claims. Plugins are found through the ``hopformer.potentials`` entry-point
group (pyproject.toml): the MLIP registers its model files ``*.pt`` there, so this module —
the foundation — never imports a learned model (docs/design.md, "Imports").
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Protocol

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator

from hopformer.physics.ase_engine import AseEngine, asap_calculator
from hopformer.physics.engine import Engine
from hopformer.physics.io import sha256_of
from hopformer.physics.lammps_engine import LammpsEAM, LammpsEngine
from hopformer.physics.structure import center_in_vacuum

ASAP_PREFIX = "asap3:"
ENTRY_POINTS = "hopformer.potentials"
#: Å: a free cluster spread wider is a blown-up rollout, not a structure (:func:`scorer`)
MAX_SPREAD = 1000.0


class PotentialPlugin(Protocol):
    """What a registered kind of potential provides."""

    name: str

    def matches(self, spec: str) -> bool: ...

    def check(self, spec: str) -> None: ...

    def engine(self, atoms: Atoms, spec: str) -> Engine: ...

    def calculator(self, spec: str) -> Calculator: ...


_REGISTERED: list[PotentialPlugin] = []


@cache
def _installed() -> tuple[PotentialPlugin, ...]:
    found = sorted(entry_points(group=ENTRY_POINTS), key=lambda ep: ep.name)
    return tuple(ep.load() for ep in found)


def plugins() -> tuple[PotentialPlugin, ...]:
    """The potential kinds: the installed ones (entry points, in name order), then those
    :func:`register`-ed in this process."""
    return (*_installed(), *_REGISTERED)


def register(plugin: PotentialPlugin) -> None:
    """Add a kind of potential for this process only, after the installed ones: a peer a
    benchmark compares against (bench/mlip_vs_mace.py registers MACE) needs no entry point."""
    if plugin not in _REGISTERED:
        _REGISTERED.append(plugin)


def plugin_for(potential: str | os.PathLike) -> PotentialPlugin | None:
    """The plugin that claims ``potential``, or None (an EAM file or an asap3 name)."""
    spec = str(potential)
    return next((p for p in plugins() if p.matches(spec)), None)


def open_engine(atoms: Atoms, potential: str | os.PathLike) -> Engine:
    """An engine for ``atoms`` on ``potential`` (see module doc)."""
    spec = str(potential)
    if spec.startswith(ASAP_PREFIX):
        kind = spec[len(ASAP_PREFIX) :]
        symbols = sorted(set(atoms.get_chemical_symbols()))
        asap_calculator(kind, symbols[0])  # fail now, with the reason, on a bad name
        return AseEngine(atoms, lambda: asap_calculator(kind, symbols[0]))
    _check_file(spec)
    plugin = plugin_for(spec)
    if plugin is not None:
        return plugin.engine(atoms, spec)
    return LammpsEngine(atoms, spec)


@contextmanager
def scorer(
    potential: str | os.PathLike,
    numbers: np.ndarray,
    first: np.ndarray,
    cell: np.ndarray | None = None,
) -> Iterator[Callable[..., tuple[float, np.ndarray | None]]]:
    """A function scoring configurations (energy eV, forces eV/Å; with ``forces=False`` the
    energy alone, forces None) on ``potential`` through one engine, open while the context
    lasts: a periodic ``cell``, or (None) a free cluster in a
    vacuum box built around ``first``. A configuration of a broken rollout scores NaN: one
    that is not finite, or a free cluster spread over more than ``MAX_SPREAD`` Å (a
    shrink-wrapped box that large would need gigabytes of neighbour bins)."""
    atoms = Atoms(numbers=numbers, positions=first, cell=cell, pbc=cell is not None)
    if cell is None:
        atoms = center_in_vacuum(atoms, 10.0)
    engine = open_engine(atoms, potential)

    def one(x: np.ndarray, forces: bool = True) -> tuple[float, np.ndarray | None]:
        x = np.asarray(x, float)
        if not np.isfinite(x).all() or (cell is None and np.ptp(x, 0).max() > MAX_SPREAD):
            return float("nan"), np.full(x.shape, np.nan) if forces else None
        engine.set_positions(x)
        if not forces:  # some potentials (the MLIP) skip the forces' work then
            return float(engine.energy()), None
        f = np.array(engine.forces(), float)
        return float(engine.energy()), f

    try:
        yield one
    finally:
        engine.close()


def score(
    potential: str | os.PathLike,
    numbers: np.ndarray,
    configs: Iterable[np.ndarray],
    cell: np.ndarray | None = None,
) -> list[tuple[float, np.ndarray]]:
    """(energy eV, forces eV/Å) of each configuration on ``potential``, one engine for all
    (:func:`scorer`)."""
    configs = [np.asarray(c, float) for c in configs]
    if not configs:
        return []
    with scorer(potential, numbers, configs[0], cell) as one:
        return [one(x) for x in configs]


def calculator(potential: str | os.PathLike) -> Calculator:
    """A fresh ASE calculator on ``potential`` (NEB images, one each)."""
    spec = str(potential)
    if spec.startswith(ASAP_PREFIX):
        return asap_calculator(spec[len(ASAP_PREFIX) :])
    _check_file(spec)
    plugin = plugin_for(spec)
    return plugin.calculator(spec) if plugin is not None else LammpsEAM(spec)


def _check_file(spec: str) -> None:
    if not Path(spec).is_file():
        raise FileNotFoundError(
            f"potential {spec!r}: no such file (expected a setfl/funcfl EAM file, "
            f"{', '.join(p.name for p in plugins()) or 'a registered kind'}, or "
            f"'{ASAP_PREFIX}EMT' / '{ASAP_PREFIX}Gupta')"
        )


def potential_id(path: str | os.PathLike) -> str:
    """The id recorded with every result made on a potential file: its SHA-256."""
    return sha256_of(path)
