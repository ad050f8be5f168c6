"""Fixtures of the fault suite (its helpers, campaign() and snapshot(), are in
tests/harness.py): every case feeds one bad input or fault and asserts that the
error names the problem (key, file or value and what was expected) and that nothing already
computed changed or was lost (docs/design.md, "When something goes wrong")."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def finished(_completed, tmp_path_factory):
    """A copy of the completed tiny campaign, shared by a module's cases that must leave it
    as it is (each asserts so)."""
    return _completed.copy_to(tmp_path_factory.mktemp("finished"))
