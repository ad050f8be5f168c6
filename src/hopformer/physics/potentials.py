"""Choosing a backend from a potential: EAM files run in LAMMPS, asap3 names in asap3.

A potential is named by a string: a path to a setfl/funcfl file (EAM → LAMMPS), or
``"asap3:EMT"`` / ``"asap3:Gupta"`` (asap3's own potentials, through ASE).
"""

from __future__ import annotations

import os
from pathlib import Path

from ase import Atoms

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

    if not Path(spec).is_file():
        raise FileNotFoundError(
            f"potential {spec!r}: no such file (expected a setfl/funcfl EAM file or "
            f"'{ASAP_PREFIX}EMT' / '{ASAP_PREFIX}Gupta')"
        )
    return LammpsEngine(atoms, spec)


def potential_id(path: str | os.PathLike) -> str:
    """The id recorded with every result made on a potential file: its SHA-256."""
    return sha256_of(path)
