"""Metal nano-clusters: magic-number shapes or any ASE-readable file, centred in vacuum.

Shapes (ASE's ``ase.cluster``), sizes by their own parameters:

- ``icosahedron``: ``shells`` (3 → 55 atoms, 4 → 147, 5 → 309)
- ``decahedron``: Marks decahedron ``p`` (atoms per 100 edge), ``q`` (per 111 edge),
  ``r`` (re-entrance depth)
- ``truncated_octahedron``: ``length`` (atoms per edge of the octahedron) and ``cutoff``
  (layers cut from each vertex), e.g. length 4, cutoff 1 → 38 atoms

The lattice constant defaults to the potential's fcc value (Zhou EAM header).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.cluster import Decahedron, Icosahedron, Octahedron
from ase.data import atomic_numbers, reference_states
from ase.io import read
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from hopformer.physics.structure import center_in_vacuum, check_overlaps

SHAPES = ("icosahedron", "decahedron", "truncated_octahedron")


def fcc_lattice_constant(element: str) -> float:
    """ASE's reference fcc lattice constant of ``element`` (Å); error if it is not fcc."""
    if element not in atomic_numbers:
        raise ValueError(f"unknown element {element!r}")
    ref = reference_states[atomic_numbers[element]]
    if not ref or ref.get("symmetry") != "fcc":
        raise ValueError(f"element {element!r} is not fcc in ASE's reference states")
    return float(ref["a"])


def build_cluster(
    element: str,
    shape: str,
    *,
    shells: int = 4,
    p: int = 3,
    q: int = 2,
    r: int = 0,
    length: int = 4,
    cutoff: int = 1,
    lattice_constant: float | None = None,
    vacuum: float = 10.0,
) -> Atoms:
    """A free fcc-metal cluster centred in a non-periodic box with ``vacuum`` Å around it."""
    a = lattice_constant if lattice_constant is not None else fcc_lattice_constant(element)
    if shape == "icosahedron":
        if shells < 1:
            raise ValueError(f"icosahedron: shells must be ≥ 1, got {shells}")
        atoms = Icosahedron(element, noshells=shells, latticeconstant=a)
    elif shape == "decahedron":
        if p < 1 or q < 1 or r < 0:
            raise ValueError(f"decahedron: need p, q ≥ 1 and r ≥ 0, got p={p} q={q} r={r}")
        atoms = Decahedron(element, p=p, q=q, r=r, latticeconstant=a)
    elif shape == "truncated_octahedron":
        if length < 2 or not (0 <= 2 * cutoff < length):
            raise ValueError(
                f"truncated_octahedron: need length ≥ 2 and 0 ≤ 2·cutoff < length, "
                f"got length={length} cutoff={cutoff}"
            )
        atoms = Octahedron(element, length=length, cutoff=cutoff, latticeconstant=a)
    else:
        raise ValueError(f"unknown cluster shape {shape!r}: expected one of {', '.join(SHAPES)}")
    atoms = Atoms(atoms.get_chemical_symbols(), positions=atoms.get_positions())
    return center_in_vacuum(atoms, vacuum)


def hollow_sites(positions: np.ndarray, nn: float) -> np.ndarray:
    """Three-fold hollow sites on the surface of a cluster: above the centre of every triangle
    of mutually neighbouring atoms (edges < 1.2·``nn``, so (111)-like facets, not the square
    (100) ones), at the height of a regular tetrahedron, on the side away from the cluster's
    centre, where no atom comes closer than 0.9·``nn``."""
    x = np.asarray(positions, dtype=float)
    centre = x.mean(0)
    d = np.linalg.norm(x[:, None] - x[None], axis=-1)
    near = (d < 1.2 * nn) & (d > 0)
    height = nn * np.sqrt(2.0 / 3.0)
    sites = []
    for i, j in zip(*np.nonzero(np.triu(near)), strict=True):
        for k in np.flatnonzero(near[i] & near[j]):
            if k <= j:
                continue
            mid = x[[i, j, k]].mean(0)
            normal = np.cross(x[j] - x[i], x[k] - x[i])
            normal /= np.linalg.norm(normal)
            if normal.dot(mid - centre) < 0:
                normal = -normal
            site = mid + height * normal
            if np.linalg.norm(x - site, axis=1).min() >= 0.9 * nn:
                sites.append(site)
    return np.array(sites).reshape(-1, 3)


def _distances(x: np.ndarray) -> tuple[np.ndarray, float]:
    """All pair distances (the diagonal infinite) and the median nearest-neighbour distance."""
    d = np.linalg.norm(x[:, None] - x[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    return d, float(np.median(d.min(1)))


def add_adatoms(atoms: Atoms, count: int, seed: int) -> Atoms:
    """``atoms`` with ``count`` adatoms of its first element on distinct three-fold hollow
    sites (:func:`hollow_sites`), drawn with ``seed``, at least two neighbour distances apart,
    each moved off the site's centre by a seeded 0.1 Å Gaussian."""
    if count <= 0:
        return atoms
    x = atoms.get_positions()
    _, nn = _distances(x)
    sites = hollow_sites(x, nn)
    order = np.random.default_rng(seed).permutation(len(sites))
    chosen: list[np.ndarray] = []
    for i in order:
        if all(np.linalg.norm(sites[i] - c) >= 2 * nn for c in chosen):
            chosen.append(sites[i])
        if len(chosen) == count:
            break
    if len(chosen) < count:
        raise ValueError(
            f"cluster.adatoms = {count}: only {len(chosen)} hollow sites at least two neighbour"
            " distances apart on this cluster"
        )
    # Off the exact centre of the triangle: there the forces cancel by symmetry and a quench
    # can stop on the saddle between two hollow sites instead of in either.
    jitter = np.random.default_rng([seed, 1]).normal(scale=0.1, size=(count, 3))
    out = atoms.copy()
    out.extend(Atoms([atoms[0].symbol] * count, positions=np.array(chosen) + jitter))
    return out


def read_cluster(path: str | os.PathLike, vacuum: float = 10.0) -> Atoms:
    """Read any ASE-readable structure (last frame) as a free cluster, checking it is sane."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: cluster file not found")
    try:
        atoms = read(path, index=-1)
    except Exception as exc:
        raise ValueError(f"{path}: not a structure ASE can read ({exc})") from exc
    if len(atoms) == 0:
        raise ValueError(f"{path}: structure has no atoms")
    if not np.isfinite(atoms.get_positions()).all():
        raise ValueError(f"{path}: non-finite positions")
    if atoms.pbc.any():
        axes = "".join(a for a, p in zip("xyz", atoms.pbc, strict=True) if p)
        raise ValueError(
            f"{path}: periodic along {axes} (a bulk or slab structure); a campaign's cluster is "
            f"free, and the periodicity would be dropped. To use these atoms as a free cluster "
            f"anyway, write them with pbc=False"
        )
    atoms = Atoms(atoms.get_chemical_symbols(), positions=atoms.get_positions())
    check_overlaps(atoms, source=str(path))
    check_connected(atoms, source=str(path))
    return center_in_vacuum(atoms, vacuum)


#: Atoms further than this many typical neighbour distances from every other atom of the
#: cluster are detached: they would drift off in vacuum instead of taking part.
DETACHED_FACTOR = 1.5


def check_connected(atoms: Atoms, source: str = "") -> None:
    """Raise ValueError naming the atoms not connected to the largest piece of ``atoms``
    (links shorter than :data:`DETACHED_FACTOR` × the median nearest-neighbour distance)."""
    if len(atoms) < 2:
        return
    d, nn = _distances(atoms.get_positions())
    reach = DETACHED_FACTOR * nn
    i, j = np.nonzero(d < reach)
    graph = coo_matrix((np.ones(len(i)), (i, j)), shape=(len(atoms), len(atoms)))
    _, label = connected_components(graph, directed=False)
    main = np.bincount(label).argmax()
    detached = np.flatnonzero(label != main)
    if len(detached):
        shown = ", ".join(map(str, detached[:10])) + (" ..." if len(detached) > 10 else "")
        raise ValueError(
            f"{source + ': ' if source else ''}{len(detached)} atom(s) detached from the cluster "
            f"(atoms {shown}: no neighbour within {reach:.2f} Å of the rest); remove them or "
            f"place them on the surface"
        )


def bulk_cell(element: str, cells: int, lattice_constant: float) -> Atoms:
    """A periodic fcc supercell of ``cells``³ cubic cells (4 atoms each)."""
    return bulk(element, "fcc", a=lattice_constant, cubic=True).repeat(cells)
