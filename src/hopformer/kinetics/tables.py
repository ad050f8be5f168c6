"""Reading and writing a kinetics round's tables (schemas in :mod:`hopformer.data.kinetics`).

A round folder ``kinetics/round-RRR/`` holds ``states``, ``processes``, ``trajectory`` and
``targets`` (Parquet), the same without positions as CSV, and ``summary.json``; the search
jobs write ``search-JJJ.events.parquet`` and ``search-JJJ.stats.parquet`` beside them.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from hopformer.data.kinetics import KINETIC_STATES, PROCESSES, TARGETS, TRAJECTORY
from hopformer.data.shards import csv_text, read_table, write_rows
from hopformer.physics.io import write_text_atomic
from hopformer.physics.states import MOVED
from hopformer.transformer.examples import Example

TABLES = {
    "states": KINETIC_STATES,
    "processes": PROCESSES,
    "trajectory": TRAJECTORY,
    "targets": TARGETS,
}
ARRAY_COLUMNS = ("positions", "final_positions", "numbers")  # left out of the CSVs


def round_paths(folder: str | os.PathLike) -> dict[str, Path]:
    return {name: Path(folder) / f"{name}.parquet" for name in TABLES}


def read_round(folder: str | os.PathLike) -> dict[str, list[dict]]:
    """The four tables of a round folder as row lists (positions as (N, 3) arrays)."""
    out = {}
    for name, path in round_paths(folder).items():
        rows = read_table(path, TABLES[name]).to_pylist()
        for row in rows:
            for col in ("positions", "final_positions"):
                if col in row:
                    row[col] = np.reshape(row[col], (-1, 3))
        out[name] = rows
    return out


def write_round(folder: str | os.PathLike, tables: dict[str, list[dict]]) -> None:
    """Every table as Parquet, and as CSV without the position columns."""
    for name, path in round_paths(folder).items():
        write_rows(tables[name], path, TABLES[name])
        columns = [f.name for f in TABLES[name] if f.name not in ARRAY_COLUMNS]
        write_text_atomic(path.with_suffix(".csv"), csv_text(tables[name], columns))


def validated_examples(tables: dict[str, list[dict]]) -> list[Example]:
    """Every valid process of a round's tables as a transformer training example: the state's
    minimum → the product, in the state's frame (the closed loop's fine-tuning data)."""
    states = {s["state"]: s for s in tables["states"]}
    out = []
    for p in tables["processes"]:
        if p["valid"]:
            s = states[p["state"]]
            x, final = s["positions"], p["final_positions"]
            moved = int((np.linalg.norm(final - x, axis=1) > MOVED).sum())
            numbers = np.asarray(s["numbers"], dtype=np.int64)
            out.append(Example(numbers, x, final, p["state"], p["product"], moved))
    return out
