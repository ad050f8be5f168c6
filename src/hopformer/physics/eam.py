"""Embedded-atom potentials: Zhou–Johnson–Wadley 2004 parameters, setfl/funcfl tables.

The analytic forms are those of X. W. Zhou, R. A. Johnson and H. N. G. Wadley,
Phys. Rev. B 69, 144113 (2004), tabulated the way LAMMPS's ``tools/eam_database`` does:

    f(r)   = fe·exp(−β(r/re − 1)) / (1 + (r/re − λ)^20)
    φ(r)   = A·exp(−α(r/re − 1)) / (1 + (r/re − κ)^20) − B·exp(−β(r/re − 1)) / (1 + (r/re − λ)^20)
    F(ρ)   = Σ Fn_i (ρ/ρn − 1)^i             ρ < ρn          (ρn = ρn/ρe · ρe)
           = Σ F_i (ρ/ρe − 1)^i               ρn ≤ ρ < ρo     (ρo = 1.15 ρe)
           = Fe (1 − η ln(ρ/ρs)) (ρ/ρs)^η     ρ ≥ ρo

Units: Å, eV, electron density in the paper's arbitrary units. Tables follow the DYNAMO setfl
layout read by LAMMPS ``pair_style eam/alloy`` and ASE's ``ase.calculators.eam.EAM``: F(ρ) on
``nrho`` points, ρ(r) on ``nr`` points and r·φ(r) (eV·Å) on the same r grid.
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


@dataclass(frozen=True)
class ZhouParameters:
    """One element's parameters, as published (PRB 69, 144113, Table III) and in LAMMPS."""

    re: float
    fe: float
    rhoe: float
    rhos: float
    alpha: float
    beta: float
    A: float
    B: float
    kappa: float
    lam: float
    Fn: tuple[float, float, float, float]
    F: tuple[float, float, float, float]
    eta: float
    Fe: float
    rhon_ratio: float = 0.85  # ρn/ρe; 0.25 for Pt (0.85 makes Pt's F jump by 2.64 eV)
    rhoo_ratio: float = 1.15  # ρo/ρe

    @property
    def fcc_lattice(self) -> float:
        """Nominal fcc lattice constant √2·re (Å), written into the setfl header."""
        return math.sqrt(2.0) * self.re


ZHOU2004: dict[str, ZhouParameters] = {
    "Cu": ZhouParameters(2.556162, 1.554485, 21.175871, 21.175395, 8.127620, 4.334731,
                         0.396620, 0.548085, 0.308782, 0.756515,
                         (-2.170269, -0.263788, 1.088878, -0.817603),
                         (-2.19, 0.0, 0.561830, -2.100595), 0.310490, -2.186568),
    "Ag": ZhouParameters(2.891814, 1.106232, 14.604100, 14.604144, 9.132010, 4.870405,
                         0.277758, 0.419611, 0.339710, 0.750758,
                         (-1.729364, -0.255882, 0.912050, -0.561432),
                         (-1.75, 0.0, 0.744561, -1.150650), 0.783924, -1.748423),
    "Au": ZhouParameters(2.885034, 1.529021, 19.991632, 19.991509, 9.516052, 5.075228,
                         0.229762, 0.356666, 0.356570, 0.748798,
                         (-2.937772, -0.500288, 1.601954, -0.835530),
                         (-2.98, 0.0, 1.706587, -1.134778), 1.021095, -2.978815),
    "Ni": ZhouParameters(2.488746, 2.007018, 27.562015, 27.562031, 8.383453, 4.471175,
                         0.429046, 0.633531, 0.443599, 0.820658,
                         (-2.693513, -0.076445, 0.241442, -2.375626),
                         (-2.70, 0.0, 0.265390, -0.152856), 0.445470, -2.7),
    "Pd": ZhouParameters(2.750897, 1.595417, 21.335246, 21.940073, 8.697397, 4.638612,
                         0.406763, 0.598880, 0.397263, 0.754799,
                         (-2.321006, -0.473983, 1.615343, -0.231681),
                         (-2.36, 0.0, 1.481742, -1.675615), 1.130000, -2.352753),
    "Pt": ZhouParameters(2.771916, 2.336509, 33.367564, 35.205357, 7.105782, 3.789750,
                         0.556398, 0.696037, 0.385255, 0.770510,
                         (-1.455568, -2.149952, 0.528491, 1.222875),
                         (-4.17, 0.0, 3.010561, -2.420128), 1.450000, -4.145597,
                         rhon_ratio=0.25),
    "Al": ZhouParameters(2.863924, 1.403115, 20.418205, 23.195740, 6.613165, 3.527021,
                         0.314873, 0.365551, 0.379846, 0.759692,
                         (-2.807602, -0.301435, 1.258562, -1.247604),
                         (-2.83, 0.0, 0.622245, -2.488244), 0.785902, -2.824528),
}  # fmt: skip


def zhou_parameters(element: str) -> ZhouParameters:
    """Parameters of ``element``; a clear error for one we do not have."""
    try:
        return ZHOU2004[element]
    except KeyError:
        raise ValueError(
            f"unknown element {element!r} for the Zhou 2004 EAM: expected one of "
            f"{', '.join(sorted(ZHOU2004))}"
        ) from None


def zhou_density(p: ZhouParameters, r: np.ndarray) -> np.ndarray:
    """Atomic electron density f(r)."""
    x = np.asarray(r, dtype=float) / p.re
    return p.fe * np.exp(-p.beta * (x - 1.0)) / (1.0 + (x - p.lam) ** 20)


def zhou_pair(p: ZhouParameters, r: np.ndarray) -> np.ndarray:
    """Pair potential φ(r) in eV."""
    x = np.asarray(r, dtype=float) / p.re
    rep = p.A * np.exp(-p.alpha * (x - 1.0)) / (1.0 + (x - p.kappa) ** 20)
    att = p.B * np.exp(-p.beta * (x - 1.0)) / (1.0 + (x - p.lam) ** 20)
    return rep - att


def zhou_embedding(p: ZhouParameters, rho: np.ndarray) -> np.ndarray:
    """Embedding energy F(ρ) in eV, the three pieces of Zhou et al. (2004)."""
    rho = np.asarray(rho, dtype=float)
    rhon, rhoo = p.rhon_ratio * p.rhoe, p.rhoo_ratio * p.rhoe
    low = sum(c * (rho / rhon - 1.0) ** i for i, c in enumerate(p.Fn))
    mid = sum(c * (rho / p.rhoe - 1.0) ** i for i, c in enumerate(p.F))
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(rho > 0, rho / p.rhos, 1.0)
        high = p.Fe * (1.0 - p.eta * np.log(s)) * s**p.eta
    return np.where(rho < rhon, low, np.where(rho < rhoo, mid, high))


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


def zhou_table(
    elements: str | list[str],
    nr: int = 2000,
    nrho: int = 2000,
    cutoff: float | None = None,
    r_start: float = 0.5,
) -> EAMTable:
    """Tabulate the Zhou 2004 EAM for ``elements`` the way ``tools/eam_database`` does.

    ``cutoff`` defaults to √10/2 times the largest nominal lattice constant (between the 4th
    and 5th fcc neighbour shells). Below ``r_start`` (Å) the functions are held at their
    value at ``r_start``, as in the reference generator. Cross pairs use Johnson's mixing rule
    φ_ab = ½(f_b/f_a φ_aa + f_a/f_b φ_bb).
    """
    if isinstance(elements, str):
        elements = [elements]
    if not elements:
        raise ValueError("zhou_table: expected at least one element")
    if len(set(elements)) != len(elements):
        raise ValueError(f"zhou_table: repeated element in {elements}")
    params = [zhou_parameters(e) for e in elements]
    if nr < 5 or nrho < 5:
        raise ValueError(f"zhou_table: nr and nrho must be ≥ 5, got nr={nr}, nrho={nrho}")
    if cutoff is None:
        cutoff = math.sqrt(10.0) / 2.0 * max(p.fcc_lattice for p in params)
    if not (cutoff > r_start):
        raise ValueError(f"zhou_table: cutoff must exceed {r_start} Å, got {cutoff}")
    dr = cutoff / (nr - 1)
    r = np.maximum(np.arange(nr) * dr, r_start)
    dens = np.array([zhou_density(p, r) for p in params])
    pair = np.array([zhou_pair(p, r) for p in params])
    n = len(params)
    rphi = np.empty((n, n, nr))
    for a in range(n):
        for b in range(n):
            if a == b:
                phi = pair[a]
            else:
                phi = 0.5 * (dens[b] / dens[a] * pair[a] + dens[a] / dens[b] * pair[b])
            rphi[a, b] = r * phi
    rho_max = max(float(dens.max()), 2.0 * max(p.rhoe for p in params), 100.0)
    drho = rho_max / (nrho - 1)
    rho = np.arange(nrho) * drho
    emb = np.array([zhou_embedding(p, rho) for p in params])
    return EAMTable(
        elements=list(elements),
        numbers=[atomic_numbers[e] for e in elements],
        masses=[float(atomic_masses[atomic_numbers[e]]) for e in elements],
        lattice_constants=[p.fcc_lattice for p in params],
        lattice_types=["fcc"] * n,
        nrho=nrho,
        drho=drho,
        nr=nr,
        dr=dr,
        cutoff=cutoff,
        embedding=emb,
        density=dens,
        rphi=rphi,
        comments=(
            "Zhou-Johnson-Wadley EAM, Phys. Rev. B 69, 144113 (2004)",
            f"generated by hopformer: nr={nr} nrho={nrho} cutoff={cutoff:.6f} A",
            "units: eV, Angstrom",
        ),
    )


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
        z, mass, a, lt = _element_header(*tokens.line_fields(f"the header of {e}"), path)
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
    return EAMTable(elements, numbers, masses, lats, types, nrho, drho, nr, dr, cutoff,
                    np.array(emb), np.array(dens), rphi,
                    comments=tuple(s.rstrip("\n") for s in lines[:3]))  # fmt: skip


def read_funcfl(path: str | os.PathLike) -> EAMTable:
    """Read a single-element DYNAMO funcfl (``.eam``) file into setfl layout.

    funcfl stores an effective charge Z(r); r·φ(r) = 27.2·0.529·Z(r)² (eV·Å), as LAMMPS does.
    """
    path = Path(path)
    lines = _read_lines(path)
    if len(lines) < 3:
        raise PotentialFileError(f"{path}: a funcfl file needs ≥ 3 header lines, found "
                                 f"{len(lines)}")  # fmt: skip
    tokens = _Tokens(path, lines, 1)
    z, mass, a, lt = _element_header(*tokens.line_fields("the element header"), path)
    nrho, drho, nr, dr, cutoff = _grid(*tokens.line_fields("the grid line"), path)
    emb = tokens.floats(nrho, "F(rho)")
    zr = tokens.floats(nr, "Z(r)")
    dens = tokens.floats(nr, "rho(r)")
    tokens.expect_end()
    el = chemical_symbols[z]
    return EAMTable([el], [z], [mass], [a], [lt], nrho, drho, nr, dr, cutoff,
                    emb[None], dens[None], (HARTREE_BOHR * zr * zr)[None, None],
                    comments=(lines[0].rstrip("\n"), "", ""), source_format="funcfl")  # fmt: skip


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
