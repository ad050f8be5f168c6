"""Helpers of the fault suite: every case feeds one bad input or fault and asserts that the
error names the problem (key, file or value and what was expected) and that nothing already
computed changed or was lost (docs/design.md, "When something goes wrong")."""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path

import pytest

from harness import REPO
from hopformer import config as C


def campaign(**overrides) -> dict:
    """The default campaign with dotted-key overrides (``training__steps=3`` sets
    training.steps), not yet checked."""
    config = copy.deepcopy(C.read_yaml(REPO / "config" / "config.yaml"))
    for dotted, value in overrides.items():
        node = config
        *parents, leaf = dotted.split("__")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return config


def snapshot(root: Path) -> dict[str, str]:
    """{path relative to ``root``: SHA-256} of every file below ``root``."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def finished(_completed, tmp_path_factory):
    """A copy of the completed tiny campaign, shared by a module's cases that must leave it
    as it is (each asserts so)."""
    return _completed.copy_to(tmp_path_factory.mktemp("finished"))
