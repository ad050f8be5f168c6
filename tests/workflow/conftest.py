"""Fixtures of the workflow tests (helpers in harness.py)."""

from __future__ import annotations

import pytest
from harness import Workflow


@pytest.fixture
def workflow(tmp_path) -> Workflow:
    return Workflow(tmp_path)
