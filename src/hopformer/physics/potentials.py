"""Choosing a backend from a potential: EAM files run in LAMMPS, asap3 names in asap3,
hopformer MLIP model files through ASE.

A potential is named by a string: a path to a setfl/funcfl file (EAM → LAMMPS), a path to a
trained MLIP model file ``*.pt`` (:class:`~hopformer.mlip.calculator.HopformerPotential`,
through ASE), or ``"asap3:EMT"`` / ``"asap3:Gupta"`` (asap3's own potentials, through ASE).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator

from hopformer.physics.engine import Engine
from hopformer.physics.io import sha256_of

ASAP_PREFIX = "asap3:"


def open_engine(atoms: Atoms, potential: str | os.PathLike) -> Engine:
    """An engine for ``atoms`` on ``potential`` (see module doc)."""
    spec = str(potential)
    if spec.startswith(ASAP_PREFIX):
        from hopformer.physics.ase_engine import AseEngine, asap_calculator

        kind = spec[len(ASAP_PREFIX) :]
        symbols = sorted(set(atoms.get_chemical_symbols()))
        asap_calculator(kind, symbols[0])  # fail now, with the reason, on a bad name
        return AseEngine(atoms, lambda: asap_calculator(kind, symbols[0]))
    from hopformer.physics.lammps_engine import LammpsEngine

    _check_file(spec)
    if is_mlip(spec):
        from hopformer.mlip.calculator import HopformerPotential, load_network
        from hopformer.physics.ase_engine import AseEngine

        network = load_network(spec)  # once: every calculator of this engine shares it
        return AseEngine(atoms, lambda: HopformerPotential(network))
    return LammpsEngine(atoms, spec)


def score(potential: str | os.PathLike, numbers: np.ndarray, configs: Iterable[np.ndarray],
          cell: np.ndarray | None = None) -> list[tuple[float, np.ndarray]]:  # fmt: skip
    """(energy eV, forces eV/Å) of each configuration on ``potential``, one engine for all: a
    periodic ``cell``, or (None) a free cluster in a vacuum box. A non-finite configuration
    (a broken rollout) scores NaN."""
    from hopformer.physics.structure import center_in_vacuum

    configs = [np.asarray(c, float) for c in configs]
    if not configs:
        return []
    atoms = Atoms(numbers=numbers, positions=configs[0], cell=cell, pbc=cell is not None)
    if cell is None:
        atoms = center_in_vacuum(atoms, 10.0)
    engine = open_engine(atoms, potential)
    try:
        out = []
        for x in configs:
            if not np.isfinite(x).all():
                out.append((float("nan"), np.full(x.shape, np.nan)))
                continue
            engine.set_positions(x)
            out.append((float(engine.energy()), np.array(engine.forces(), float)))
        return out
    finally:
        engine.close()


def calculator(potential: str | os.PathLike) -> Calculator:
    """A fresh ASE calculator on ``potential`` (NEB images, one each)."""
    spec = str(potential)
    if spec.startswith(ASAP_PREFIX):
        from hopformer.physics.ase_engine import asap_calculator

        return asap_calculator(spec[len(ASAP_PREFIX) :])
    _check_file(spec)
    if is_mlip(spec):
        from hopformer.mlip.calculator import HopformerPotential

        return HopformerPotential(spec)
    from hopformer.physics.lammps_engine import LammpsEAM

    return LammpsEAM(spec)


def is_mlip(potential: str | os.PathLike) -> bool:
    """Whether ``potential`` names a hopformer MLIP model file (``*.pt``)."""
    return str(potential).endswith(".pt")


def _check_file(spec: str) -> None:
    if not Path(spec).is_file():
        raise FileNotFoundError(
            f"potential {spec!r}: no such file (expected a setfl/funcfl EAM file, a hopformer "
            f"MLIP model file *.pt, or '{ASAP_PREFIX}EMT' / '{ASAP_PREFIX}Gupta')"
        )


def potential_id(path: str | os.PathLike) -> str:
    """The id recorded with every result made on a potential file: its SHA-256."""
    return sha256_of(path)
