"""The Zhou–Johnson–Wadley 2004 EAM: published parameters and their setfl tabulation.

The analytic forms are those of X. W. Zhou, R. A. Johnson and H. N. G. Wadley,
Phys. Rev. B 69, 144113 (2004), tabulated the way LAMMPS's ``tools/eam_database`` does:

    f(r)   = fe·exp(−β(r/re − 1)) / (1 + (r/re − λ)^20)
    φ(r)   = A·exp(−α(r/re − 1)) / (1 + (r/re − κ)^20) − B·exp(−β(r/re − 1)) / (1 + (r/re − λ)^20)
    F(ρ)   = Σ Fn_i (ρ/ρn − 1)^i             ρ < ρn          (ρn = ρn/ρe · ρe)
           = Σ F_i (ρ/ρe − 1)^i               ρn ≤ ρ < ρo     (ρo = 1.15 ρe)
           = Fe (1 − η ln(ρ/ρs)) (ρ/ρs)^η     ρ ≥ ρo

Units: Å, eV, electron density in the paper's arbitrary units. The table is an
:class:`~hopformer.physics.eam.EAMTable`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from ase.data import atomic_masses, atomic_numbers

from hopformer.physics.eam import EAMTable


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
    "Cu": ZhouParameters(
        2.556162,
        1.554485,
        21.175871,
        21.175395,
        8.127620,
        4.334731,
        0.396620,
        0.548085,
        0.308782,
        0.756515,
        (-2.170269, -0.263788, 1.088878, -0.817603),
        (-2.19, 0.0, 0.561830, -2.100595),
        0.310490,
        -2.186568,
    ),
    "Ag": ZhouParameters(
        2.891814,
        1.106232,
        14.604100,
        14.604144,
        9.132010,
        4.870405,
        0.277758,
        0.419611,
        0.339710,
        0.750758,
        (-1.729364, -0.255882, 0.912050, -0.561432),
        (-1.75, 0.0, 0.744561, -1.150650),
        0.783924,
        -1.748423,
    ),
    "Au": ZhouParameters(
        2.885034,
        1.529021,
        19.991632,
        19.991509,
        9.516052,
        5.075228,
        0.229762,
        0.356666,
        0.356570,
        0.748798,
        (-2.937772, -0.500288, 1.601954, -0.835530),
        (-2.98, 0.0, 1.706587, -1.134778),
        1.021095,
        -2.978815,
    ),
    "Ni": ZhouParameters(
        2.488746,
        2.007018,
        27.562015,
        27.562031,
        8.383453,
        4.471175,
        0.429046,
        0.633531,
        0.443599,
        0.820658,
        (-2.693513, -0.076445, 0.241442, -2.375626),
        (-2.70, 0.0, 0.265390, -0.152856),
        0.445470,
        -2.7,
    ),
    "Pd": ZhouParameters(
        2.750897,
        1.595417,
        21.335246,
        21.940073,
        8.697397,
        4.638612,
        0.406763,
        0.598880,
        0.397263,
        0.754799,
        (-2.321006, -0.473983, 1.615343, -0.231681),
        (-2.36, 0.0, 1.481742, -1.675615),
        1.130000,
        -2.352753,
    ),
    "Pt": ZhouParameters(
        2.771916,
        2.336509,
        33.367564,
        35.205357,
        7.105782,
        3.789750,
        0.556398,
        0.696037,
        0.385255,
        0.770510,
        (-1.455568, -2.149952, 0.528491, 1.222875),
        (-4.17, 0.0, 3.010561, -2.420128),
        1.450000,
        -4.145597,
        rhon_ratio=0.25,
    ),
    "Al": ZhouParameters(
        2.863924,
        1.403115,
        20.418205,
        23.195740,
        6.613165,
        3.527021,
        0.314873,
        0.365551,
        0.379846,
        0.759692,
        (-2.807602, -0.301435, 1.258562, -1.247604),
        (-2.83, 0.0, 0.622245, -2.488244),
        0.785902,
        -2.824528,
    ),
}


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
