"""What every stage's commands share: how they print (progress lines flushed at once, since a
job's log is read while it runs; summaries as indented JSON) and the flags every training
command takes."""

from __future__ import annotations

import argparse
import json


def log(message: str) -> None:
    print(message, flush=True)


def show(summary) -> None:
    print(json.dumps(summary, indent=2))


def add_threads(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")


def add_training_outputs(parser: argparse.ArgumentParser) -> None:
    """The files of a training: model, loss log, summary, and the checkpoint it resumes from."""
    parser.add_argument("--out", required=True, help="model file to write (.pt)")
    parser.add_argument("--loss-log", required=True, help="loss per step (CSV)")
    parser.add_argument("--summary", required=True, help="training summary (JSON)")
    parser.add_argument(
        "--checkpoint-dir", required=True, help="where checkpoints/last.pt is kept (resumed from)"
    )
    add_threads(parser)
