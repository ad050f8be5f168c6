"""What every command prints: progress lines, flushed at once (a job's log is read while it
runs), and its summary as indented JSON."""

from __future__ import annotations

import json


def log(message: str) -> None:
    print(message, flush=True)


def show(summary) -> None:
    print(json.dumps(summary, indent=2))
