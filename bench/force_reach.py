"""How far a surrogate's graph must reach to see the reference force (docs/design.md §13).

An EAM force is a sum of central pair terms, F_i = Σ_j g_ij r̂_ij with g_ij = dE/dr_ij
= (F'(ρ_i) + F'(ρ_j)) ρ'(r_ij) + φ'(r_ij). A model whose output is a sum over its graph's edges
of learned scalars times r̂_ij (the trajectory surrogates' form) sees a pair only within its
cutoff, and only as much as its envelope lets through. This bench weighs the exact pair terms
of the Zhou 2004 EAM by each envelope and prints how much of the full force is left: the
projection slope ⟨f·F⟩/⟨F·F⟩ and the share of variance R² = ⟨f·F⟩²/(⟨f·f⟩⟨F·F⟩), over thermal
snapshots of Pt55 (free) and Al108 (periodic) from LAMMPS Langevin MD. The full pair sum is
first checked against LAMMPS's own forces.

Usage: python bench/force_reach.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch
from ase.build import bulk

from hopformer.physics.clusters import build_cluster
from hopformer.physics.eam import write_setfl
from hopformer.physics.engine import Langevin
from hopformer.physics.potentials import open_engine
from hopformer.physics.structure import neighbours
from hopformer.physics.zhou2004 import (
    zhou_density,
    zhou_embedding,
    zhou_pair,
    zhou_parameters,
    zhou_table,
)
from hopformer.surrogates.integrator import DisplacementIntegrator, IntegratorConfig

H = 1e-5  # Å and density units, central differences of the analytic functions
#: (cutoff, taper_start) Å; taper_start 0 is the whole-cutoff cosine
ENVELOPES = ((4.0, 0.0), (4.5, 0.0), (5.5, 0.0), (5.5, 4.5), (6.0, 5.0))


def pair_terms(element: str, cutoff: float, x: np.ndarray, cell: np.ndarray | None):
    """(i, j, g_ij eV/Å, r_ij Å, r̂_ij) of every pair within the potential's ``cutoff``."""
    p = zhou_parameters(element)
    i, j, s = neighbours(x, cell, cutoff)
    rij = x[j] - x[i] + (s @ cell if cell is not None else 0.0)
    r = np.linalg.norm(rij, axis=1)
    rho = np.bincount(i, zhou_density(p, r), len(x))
    df = (zhou_embedding(p, rho + H) - zhou_embedding(p, rho - H)) / (2 * H)
    drho = (zhou_density(p, r + H) - zhou_density(p, r - H)) / (2 * H)
    dphi = (zhou_pair(p, r + H) - zhou_pair(p, r - H)) / (2 * H)
    return i, j, (df[i] + df[j]) * drho + dphi, r, rij / r[:, None]


def snapshots(atoms, potential: Path, temperature: float, frames: int = 6):
    engine = open_engine(atoms, potential)
    engine.thermalize(temperature, seed=1)
    out = []
    for _ in range(frames):
        engine.run(500, Langevin(temperature, 2.0, 100.0, seed=len(out) + 1))
        out.append((engine.get_positions().copy(), engine.forces().copy()))
    engine.close()
    return out


def main() -> None:
    # the surrogates' own edge weight (DisplacementIntegrator._smooth) under each envelope
    graphs = [
        DisplacementIntegrator(IntegratorConfig(cutoff=c, taper_start=s)) for c, s in ENVELOPES
    ]
    with tempfile.TemporaryDirectory() as tmp:
        systems = {
            "Pt55": (build_cluster("Pt", "icosahedron", shells=3, lattice_constant=3.92), "Pt"),
            "Al108": (bulk("Al", "fcc", a=4.05, cubic=True).repeat(3), "Al"),
        }
        print("share of the EAM force an edge envelope lets through: slope / R²")
        print(f"  {'':15s}" + "".join(f"  {f'{c:g} Å from {s:g}':15s}" for c, s in ENVELOPES))
        for name, (atoms, element) in systems.items():
            table = zhou_table(element)
            pot = write_setfl(table, Path(tmp) / f"{element}.eam.alloy")
            cell = atoms.cell.array if atoms.pbc.any() else None
            for temperature in (300.0, 700.0):
                sums = np.zeros((len(ENVELOPES), 3))
                check = []
                for x, lammps in snapshots(atoms, pot, temperature):
                    i, j, g, r, u = pair_terms(element, table.cutoff, x, cell)
                    full = np.zeros_like(x)
                    np.add.at(full, i, g[:, None] * u)
                    check.append(np.abs(full - lammps).max() / np.abs(lammps).max())
                    for k, graph in enumerate(graphs):
                        weight = graph._smooth(torch.as_tensor(r)).numpy()
                        f = np.zeros_like(x)
                        np.add.at(f, i, (weight * g)[:, None] * u)
                        sums[k] += [(f * full).sum(), (full * full).sum(), (f * f).sum()]
                cells = "".join(
                    f"  {a[0] / a[1]:5.2f} / {a[0] ** 2 / (a[1] * a[2]):4.2f}    " for a in sums
                )
                print(
                    f"  {name:6s} {temperature:4.0f} K {cells}"
                    f"  (pair sum vs LAMMPS {max(check):.0e})"
                )


if __name__ == "__main__":
    main()
