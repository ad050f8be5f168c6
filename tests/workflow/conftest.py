"""Fixtures of the workflow tests (helpers in tests/harness.py; the completed tiny campaign,
shared with the fault suite, in tests/conftest.py)."""

from __future__ import annotations

import pytest

from harness import TINY, Workflow


@pytest.fixture
def workflow(tmp_path) -> Workflow:
    """The workflow with the tiny test campaign, nothing run yet."""
    return Workflow(tmp_path, TINY)


@pytest.fixture
def default_workflow(tmp_path) -> Workflow:
    """The workflow with the shipped default config, nothing run yet."""
    return Workflow(tmp_path)
