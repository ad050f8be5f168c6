"""Embedded-atom potential tables: the setfl/funcfl formats, read and written.

Tables follow the DYNAMO setfl layout read by LAMMPS ``pair_style eam/alloy`` and ASE's
``ase.calculators.eam.EAM``: F(ρ) on ``nrho`` points, ρ(r) on ``nr`` points and r·φ(r) (eV·Å)
on the same r grid. Units: Å, eV. The Zhou 2004 parametrisation that generates the campaign's
table is :mod:`hopformer.physics.zhou2004`.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase.data import atomic_masses, atomic_numbers, chemical_symbols

from hopformer.physics.io import write_text_atomic

# Hartree·Bohr in eV·Å, the factor DYNAMO funcfl files use to turn Z(r) into r·φ(r).
HARTREE_BOHR = 27.2 * 0.529


@dataclass
class EAMTable:
    """A tabulated EAM potential in setfl layout (any number of elements).

    ``embedding[e]`` is F on ρ = i·drho (i < nrho); ``density[e]`` is ρ_e(r) and
    ``rphi[a, b]`` is r·φ_ab(r) (symmetric) on r = i·dr (i < nr). ``cutoff`` in Å.
    """

    elements: list[str]
    numbers: list[int]
    masses: list[float]
    lattice_constants: list[float]
    lattice_types: list[str]
    nrho: int
    drho: float
    nr: int
    dr: float
    cutoff: float
    embedding: np.ndarray  # (n_el, nrho)
    density: np.ndarray  # (n_el, nr)
    rphi: np.ndarray  # (n_el, n_el, nr)
    comments: tuple[str, str, str] = ("", "", "")
    source_format: str = "setfl"


def _fmt_block(values: np.ndarray) -> str:
    v = np.asarray(values, dtype=float)
    lines = [" ".join(f"{x:.16e}" for x in v[i : i + 5]) for i in range(0, len(v), 5)]
    return "\n".join(lines) + "\n"


def setfl_text(table: EAMTable) -> str:
    """The table as DYNAMO setfl text (``pair_style eam/alloy``)."""
    out = [c.replace("\n", " ") + "\n" for c in table.comments]
    out.append(f"{len(table.elements)} " + " ".join(table.elements) + "\n")
    out.append(f"{table.nrho} {table.drho:.16e} {table.nr} {table.dr:.16e} {table.cutoff:.16e}\n")
    for i in range(len(table.elements)):
        out.append(
            f"{table.numbers[i]} {table.masses[i]:.6f} {table.lattice_constants[i]:.6f} "
            f"{table.lattice_types[i]}\n"
        )
        out.append(_fmt_block(table.embedding[i]))
        out.append(_fmt_block(table.density[i]))
    for a in range(len(table.elements)):
        for b in range(a + 1):
            out.append(_fmt_block(table.rphi[a, b]))
    return "".join(out)


def write_setfl(table: EAMTable, path: str | os.PathLike) -> Path:
    """Write ``table`` as a setfl file, atomically."""
    return write_text_atomic(path, setfl_text(table))


class PotentialFileError(ValueError):
    """A malformed potential file; the message names the file and line."""


class _Tokens:
    """Whitespace-separated numbers of a file, each remembering its line number."""

    def __init__(self, path: Path, lines: list[str], first_line: int):
        self.path = path
        self.items: list[tuple[str, int]] = []
        for lineno, line in enumerate(lines[first_line:], start=first_line + 1):
            self.items.extend((tok, lineno) for tok in line.split())
        self.pos = 0

    def floats(self, n: int, what: str) -> np.ndarray:
        if self.pos + n > len(self.items):
            last = self.items[-1][1] if self.items else "?"
            raise PotentialFileError(
                f"{self.path}: file ends at line {last} after {len(self.items) - self.pos} "
                f"of the {n} values expected for {what}"
            )
        out = np.empty(n)
        for k in range(n):
            tok, lineno = self.items[self.pos + k]
            try:
                out[k] = float(tok.replace("D", "e").replace("d", "e"))
            except ValueError:
                raise PotentialFileError(
                    f"{self.path}:{lineno}: expected a number in {what}, got {tok!r}"
                ) from None
            if not math.isfinite(out[k]):
                raise PotentialFileError(f"{self.path}:{lineno}: non-finite value in {what}")
        self.pos += n
        return out

    def line_fields(self, what: str) -> tuple[list[str], int]:
        """The remaining fields of the line the next token sits on (header lines)."""
        if self.pos >= len(self.items):
            raise PotentialFileError(f"{self.path}: file ends before {what}")
        lineno = self.items[self.pos][1]
        fields = []
        while self.pos < len(self.items) and self.items[self.pos][1] == lineno:
            fields.append(self.items[self.pos][0])
            self.pos += 1
        return fields, lineno

    def expect_end(self) -> None:
        if self.pos < len(self.items):
            tok, lineno = self.items[self.pos]
            raise PotentialFileError(
                f"{self.path}:{lineno}: unexpected extra data {tok!r} after the last table"
            )


def _grid(fields: list[str], lineno: int, path: Path) -> tuple[int, float, int, float, float]:
    where = f"{path}:{lineno}"
    if len(fields) < 5:
        raise PotentialFileError(f"{where}: expected 'Nrho drho Nr dr cutoff', got {fields}")
    try:
        nrho, nr = int(fields[0]), int(fields[2])
        drho, dr, cut = float(fields[1]), float(fields[3]), float(fields[4])
    except ValueError:
        raise PotentialFileError(
            f"{where}: expected 'Nrho drho Nr dr cutoff' (int float int float float), "
            f"got {' '.join(fields[:5])!r}"
        ) from None
    if nrho < 2 or nr < 2 or not (drho > 0 and dr > 0 and cut > 0):
        raise PotentialFileError(
            f"{where}: grid must have Nrho, Nr ≥ 2 and positive drho, dr, cutoff; got "
            f"{' '.join(fields[:5])!r}"
        )
    return nrho, drho, nr, dr, cut


def _element_header(fields: list[str], lineno: int, path: Path) -> tuple[int, float, float, str]:
    if len(fields) < 3:
        raise PotentialFileError(
            f"{path}:{lineno}: expected 'Z mass lattice-constant [lattice-type]', got {fields}"
        )
    try:
        z, mass, a = int(float(fields[0])), float(fields[1]), float(fields[2])
    except ValueError:
        raise PotentialFileError(
            f"{path}:{lineno}: expected 'Z mass lattice-constant [lattice-type]', got {fields}"
        ) from None
    if not (0 < z < len(chemical_symbols)) or mass <= 0:
        raise PotentialFileError(f"{path}:{lineno}: bad atomic number {z} or mass {mass}")
    return z, mass, a, fields[3] if len(fields) > 3 else "unknown"


#: How far an element block's mass may stray from the element's standard atomic mass.
MASS_TOLERANCE = 0.1


def _check_element(element: str, z: int, mass: float, where: str) -> None:
    """The element block agrees with the element the header names (number and mass)."""
    if element in atomic_numbers and z != atomic_numbers[element]:
        raise PotentialFileError(
            f"{where}: the header names {element} (Z = {atomic_numbers[element]}) but its "
            f"element block says Z = {z} ({chemical_symbols[z]})"
        )
    standard = atomic_masses[z]
    if abs(mass - standard) > MASS_TOLERANCE * standard:
        raise PotentialFileError(
            f"{where}: {chemical_symbols[z]} has mass {mass:g} u in this file, expected about "
            f"{standard:.4g} u: the element block belongs to another element"
        )


def _check_tables(path: Path, elements, embedding, density, rphi) -> None:
    """Refuse tables that describe no interaction: every table zero, an element's density
    zero everywhere (no embedding), or a pair's r·φ zero everywhere (no repulsion: the
    cluster collapses)."""
    if not (np.any(embedding) or np.any(density) or np.any(rphi)):
        raise PotentialFileError(f"{path}: every table is zero: not a potential")
    for i, e in enumerate(elements):
        if not np.any(density[i]):
            raise PotentialFileError(f"{path}: rho(r) of {e} is zero everywhere")
        for j in range(i + 1):
            if not np.any(rphi[i, j]):
                raise PotentialFileError(
                    f"{path}: the pair term of {e}-{elements[j]} is zero everywhere "
                    f"(no repulsion: atoms would fall onto each other)"
                )


def read_setfl(path: str | os.PathLike) -> EAMTable:
    """Read a DYNAMO setfl (``.eam.alloy``) file; malformed input names the file and line."""
    path = Path(path)
    lines = _read_lines(path)
    if len(lines) < 5:
        raise PotentialFileError(f"{path}: a setfl file needs ≥ 5 header lines, found {len(lines)}")
    head = lines[3].split()
    try:
        n_el = int(head[0])
    except (IndexError, ValueError):
        raise PotentialFileError(
            f"{path}:4: expected 'Nelements Element1 Element2 ...', got {lines[3].strip()!r}"
        ) from None
    elements = head[1 : 1 + n_el]
    if n_el < 1 or len(elements) != n_el:
        raise PotentialFileError(
            f"{path}:4: header announces {n_el} elements but names {len(elements)}: "
            f"{lines[3].strip()!r}"
        )
    for e in elements:
        if e not in atomic_numbers:
            raise PotentialFileError(f"{path}:4: unknown element symbol {e!r}")
    tokens = _Tokens(path, lines, 4)
    nrho, drho, nr, dr, cutoff = _grid(*tokens.line_fields("the grid line"), path)
    numbers, masses, lats, types, emb, dens = [], [], [], [], [], []
    for e in elements:
        fields, lineno = tokens.line_fields(f"the header of {e}")
        z, mass, a, lt = _element_header(fields, lineno, path)
        _check_element(e, z, mass, f"{path}:{lineno}")
        numbers.append(z)
        masses.append(mass)
        lats.append(a)
        types.append(lt)
        emb.append(tokens.floats(nrho, f"F(rho) of {e}"))
        dens.append(tokens.floats(nr, f"rho(r) of {e}"))
    rphi = np.empty((n_el, n_el, nr))
    for a in range(n_el):
        for b in range(a + 1):
            rphi[a, b] = rphi[b, a] = tokens.floats(nr, f"r*phi(r) of {elements[a]}-{elements[b]}")
    tokens.expect_end()
    _check_tables(path, elements, emb, dens, rphi)
    return EAMTable(
        elements,
        numbers,
        masses,
        lats,
        types,
        nrho,
        drho,
        nr,
        dr,
        cutoff,
        np.array(emb),
        np.array(dens),
        rphi,
        comments=tuple(s.rstrip("\n") for s in lines[:3]),
    )


def read_funcfl(path: str | os.PathLike) -> EAMTable:
    """Read a single-element DYNAMO funcfl (``.eam``) file into setfl layout.

    funcfl stores an effective charge Z(r); r·φ(r) = 27.2·0.529·Z(r)² (eV·Å), as LAMMPS does.
    """
    path = Path(path)
    lines = _read_lines(path)
    if len(lines) < 3:
        raise PotentialFileError(
            f"{path}: a funcfl file needs ≥ 3 header lines, found {len(lines)}"
        )
    tokens = _Tokens(path, lines, 1)
    z, mass, a, lt = _element_header(*tokens.line_fields("the element header"), path)
    nrho, drho, nr, dr, cutoff = _grid(*tokens.line_fields("the grid line"), path)
    emb = tokens.floats(nrho, "F(rho)")
    zr = tokens.floats(nr, "Z(r)")
    dens = tokens.floats(nr, "rho(r)")
    tokens.expect_end()
    el = chemical_symbols[z]
    _check_element(el, z, mass, f"{path}:2")
    _check_tables(path, [el], emb[None], dens[None], (zr * zr)[None, None])
    return EAMTable(
        [el],
        [z],
        [mass],
        [a],
        [lt],
        nrho,
        drho,
        nr,
        dr,
        cutoff,
        emb[None],
        dens[None],
        (HARTREE_BOHR * zr * zr)[None, None],
        comments=(lines[0].rstrip("\n"), "", ""),
        source_format="funcfl",
    )


def read_potential(path: str | os.PathLike) -> EAMTable:
    """Read a setfl or funcfl file, telling them apart by the 4th line (setfl: 'N El ...')."""
    path = Path(path)
    lines = _read_lines(path)
    fourth = lines[3].split() if len(lines) > 3 else []
    is_setfl = len(fourth) >= 2 and fourth[0].isdigit() and fourth[1] in atomic_numbers
    return read_setfl(path) if is_setfl else read_funcfl(path)


def _read_lines(path: Path) -> list[str]:
    if not path.is_file():
        raise PotentialFileError(f"{path}: potential file not found")
    try:
        return path.read_text().splitlines()
    except UnicodeDecodeError:
        raise PotentialFileError(
            f"{path}: not a text file (expected a setfl/funcfl table)"
        ) from None
