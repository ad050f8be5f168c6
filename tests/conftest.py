"""Shared physics fixtures: generated Zhou 2004 potential files (session-scoped, small cost)."""

from __future__ import annotations

import pytest

from hopformer.physics.clusters import build_cluster
from hopformer.physics.eam import write_setfl, zhou_table


@pytest.fixture(scope="session")
def pt_potential(tmp_path_factory):
    return write_setfl(zhou_table("Pt"), tmp_path_factory.mktemp("pot") / "Pt.eam.alloy")


@pytest.fixture(scope="session")
def al_potential(tmp_path_factory):
    return write_setfl(zhou_table("Al"), tmp_path_factory.mktemp("pot") / "Al.eam.alloy")


@pytest.fixture
def pt55():
    """A fresh Pt55 icosahedron at the Zhou lattice constant, free cluster in vacuum."""
    return build_cluster("Pt", "icosahedron", shells=3, lattice_constant=3.92)
