"""Fixtures of the workflow tests (helpers in harness.py)."""

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


@pytest.fixture(scope="session")
def _completed(tmp_path_factory) -> Workflow:
    wf = Workflow(tmp_path_factory.mktemp("completed"), TINY)
    wf.snakemake()
    return wf


@pytest.fixture
def done(_completed, tmp_path) -> Workflow:
    """A private copy of a completed run of the tiny campaign (results and records)."""
    return _completed.copy_to(tmp_path / "done")
