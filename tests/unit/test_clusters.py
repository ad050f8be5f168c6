"""Cluster builders: magic numbers, free boundary, vacuum, file input and its errors."""

from __future__ import annotations

import numpy as np
import pytest
from ase.io import write

from hopformer.physics.clusters import build_cluster, read_cluster
from hopformer.physics.structure import OverlapError


@pytest.mark.parametrize(
    "shape, kwargs, natoms",
    [
        ("icosahedron", dict(shells=3), 55),
        ("icosahedron", dict(shells=4), 147),
        ("decahedron", dict(p=3, q=2, r=0), 39),
        ("truncated_octahedron", dict(length=4, cutoff=1), 38),
    ],
)
def test_magic_number_clusters(shape, kwargs, natoms):
    atoms = build_cluster("Pt", shape, vacuum=8.0, **kwargs)
    assert len(atoms) == natoms
    assert not atoms.pbc.any()
    pos = atoms.get_positions()
    np.testing.assert_allclose(pos.min(0), 8.0, atol=1e-9)
    np.testing.assert_allclose(atoms.cell.lengths() - (pos.max(0) - pos.min(0)), 16.0, atol=1e-9)
    d = np.sqrt(((pos[:, None] - pos[None]) ** 2).sum(-1)) + np.eye(len(pos)) * 99
    assert d.min() > 2.5  # Pt nearest neighbours ~2.7–2.8 Å


def test_lattice_constant_scales_cluster():
    small = build_cluster("Pt", "icosahedron", shells=3, lattice_constant=3.80)
    large = build_cluster("Pt", "icosahedron", shells=3, lattice_constant=3.95)
    r = [np.ptp(a.positions, axis=0).max() for a in (small, large)]
    assert r[1] / r[0] == pytest.approx(3.95 / 3.80, rel=1e-9)


def test_read_cluster_from_file(tmp_path):
    atoms = build_cluster("Pt", "decahedron", p=2, q=2, r=0)
    atoms.positions += 3.0  # off-centre: it is centred on reading
    write(tmp_path / "c.xyz", atoms)
    back = read_cluster(tmp_path / "c.xyz", vacuum=6.0)
    assert len(back) == len(atoms) and not back.pbc.any()
    np.testing.assert_allclose(back.positions.min(0), 6.0, atol=1e-6)


def test_bad_cluster_inputs(tmp_path):
    with pytest.raises(ValueError, match="unknown cluster shape 'cube'"):
        build_cluster("Pt", "cube")
    with pytest.raises(ValueError, match="not fcc"):
        build_cluster("Fe", "icosahedron", shells=2)
    with pytest.raises(FileNotFoundError, match="missing.xyz: cluster file not found"):
        read_cluster(tmp_path / "missing.xyz")
    (tmp_path / "junk.xyz").write_text("this is not a structure\n")
    with pytest.raises(ValueError, match="junk.xyz: not a structure ASE can read"):
        read_cluster(tmp_path / "junk.xyz")
    atoms = build_cluster("Pt", "icosahedron", shells=2)
    atoms.positions[1] = atoms.positions[0] + 0.2
    write(tmp_path / "overlap.xyz", atoms)
    with pytest.raises(OverlapError, match=r"overlap.xyz: atoms 0 and 1 .* closer than 0.5 Å"):
        read_cluster(tmp_path / "overlap.xyz")
