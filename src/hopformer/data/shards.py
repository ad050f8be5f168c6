"""Parquet shards: written atomically, validated on read — types, lengths and finite values,
and their meaning: counts and times are never negative, a transition is a change of state,
and the shards read together belong together (one campaign, temperature and potential, no
file twice).

A shard that cannot be read, or whose contents break these rules, raises :class:`ShardError`
naming the file, so a corrupted, truncated or foreign shard never flows silently into a later
stage.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from hopformer.data import schema as schemas
from hopformer.data.schema import POSITION_COLUMNS
from hopformer.physics.io import atomic_path, sha256_of

#: Columns that count something or measure a time or distance: never negative.
NONNEGATIVE = (
    "count",
    "hits",
    "window_hits",
    "blocks",
    "transitions",
    "atoms_moved",
    "failed_quenches",
    "time_ps",
    "dt_ps",
    "dwell_ps",
    "end_dwell_ps",
    "duration_ps",
    "dephase_ps",
    "residence_ps",
    "kmc_residence_ps",
    "wall_s",
    "max_displacement",
    "hyperdistance",
)
#: Tables whose rows are transitions between two different states.
TRANSITION_TABLES = (schemas.TRANSITIONS, schemas.DATASET, schemas.EDGES, schemas.RATES)
#: Columns on which every shard read together must agree.
AGREE = ("campaign", "temperature", "potential_sha256")


class ShardError(ValueError):
    """A Parquet shard that is unreadable or breaks its schema; the message names the file."""


def to_table(rows: Sequence[dict], schema: pa.Schema) -> pa.Table:
    """Rows (dicts keyed by column name; arrays allowed for list columns) as a typed table."""
    columns = {}
    for field in schema:
        values = [row[field.name] for row in rows]
        if pa.types.is_list(field.type):
            values = [np.asarray(v).ravel().tolist() for v in values]
        columns[field.name] = pa.array(values, type=field.type)
    return pa.table(columns, schema=schema)


def write_table(table: pa.Table, path: str | os.PathLike, schema: pa.Schema) -> Path:
    """Check ``table`` against ``schema`` and write it to ``path`` atomically."""
    path = Path(path)
    table = table.select(schema.names).cast(schema)
    _check(table, schema, f"table for {path}")
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return path


def write_rows(rows: Sequence[dict], path: str | os.PathLike, schema: pa.Schema) -> Path:
    return write_table(to_table(rows, schema), path, schema)


def read_table(path: str | os.PathLike, schema: pa.Schema) -> pa.Table:
    """Read and validate one shard; any problem is a :class:`ShardError` naming ``path``."""
    path = Path(path)
    if not path.is_file():
        raise ShardError(f"shard {path}: no such file")
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise ShardError(f"shard {path}: not a readable Parquet file ({exc})") from exc
    missing = [f.name for f in schema if f.name not in table.column_names]
    if missing:
        raise ShardError(f"shard {path}: missing column(s) {missing}")
    table = table.select(schema.names)
    wrong = [
        f"{f.name} is {table.schema.field(f.name).type}, expected {f.type}"
        for f in schema
        if not table.schema.field(f.name).type.equals(f.type)
    ]
    if wrong:
        raise ShardError(f"shard {path}: {'; '.join(wrong)}")
    _check(table, schema, f"shard {path}")
    return table.cast(schema)


def read_tables(paths: Iterable[str | os.PathLike], schema: pa.Schema) -> pa.Table:
    """Several validated shards of one schema that belong together (:func:`check_together`),
    concatenated in the given order."""
    paths = [Path(p) for p in paths]
    tables = [read_table(p, schema) for p in paths]
    check_together(paths, tables)
    return pa.concat_tables(tables) if tables else schema.empty_table()


def check_together(paths: Sequence[Path], tables: Sequence[pa.Table]) -> None:
    """Shards read as one: no file given twice (by name or by content, which would count its
    rows twice), and one value of each :data:`AGREE` column across all their rows."""
    seen: dict = {}
    for path, table in zip(paths, tables, strict=True):
        keys = [("file", path.resolve())] + ([("content", sha256_of(path))] if len(table) else [])
        for key in keys:
            if key in seen:
                same = "is given twice" if key[0] == "file" else f"is a copy of {seen[key]}"
                raise ShardError(
                    f"shard {path} {same}: its rows would be counted twice (expected distinct "
                    f"shards)"
                )
            seen[key] = path
    for column in AGREE:
        where: dict = {}
        for path, table in zip(paths, tables, strict=True):
            if column in table.column_names:
                for value in pc.unique(table.column(column)).to_pylist():
                    where.setdefault(value, path)
        if len(where) > 1:
            listed = "; ".join(f"{v!r} in {p}" for v, p in where.items())
            raise ShardError(
                f"shards of different {column} read together ({listed}): a campaign's shards "
                f"share one {column}"
            )


def _check(table: pa.Table, schema: pa.Schema, what: str) -> None:
    for field in schema:
        column = table.column(field.name)
        if not field.nullable and column.null_count:
            raise ShardError(f"{what}: column {field.name} has {column.null_count} null value(s)")
        values = pc.list_flatten(column) if pa.types.is_list(field.type) else column
        if pa.types.is_floating(values.type) and len(values):
            finite = pc.all(pc.is_finite(values)).as_py()
            if finite is False:
                raise ShardError(f"{what}: column {field.name} has non-finite values")
    for name in NONNEGATIVE:
        if name in table.column_names and len(table):
            negative = pc.less(table.column(name), 0)
            if pc.any(negative).as_py():
                row = pc.index(negative, True).as_py()
                raise ShardError(
                    f"{what}: row {row}: {name} = {table.column(name)[row].as_py()} is negative "
                    f"(a count or a duration)"
                )
    if any(schema.equals(t) for t in TRANSITION_TABLES) and len(table):
        same = pc.equal(table.column("initial_state"), table.column("final_state"))
        if pc.any(same).as_py():
            row = pc.index(same, True).as_py()
            raise ShardError(
                f"{what}: row {row}: initial_state = final_state = "
                f"{table.column('final_state')[row].as_py()}; a transition is a change of state"
            )
    if "numbers" in table.column_names:
        natoms = pc.list_value_length(table.column("numbers"))
        for name in POSITION_COLUMNS:
            if name in table.column_names:
                lengths = pc.list_value_length(table.column(name))
                bad = pc.not_equal(lengths, pc.multiply(natoms, 3))
                if pc.any(bad).as_py():
                    row = pc.index(bad, True).as_py()
                    raise ShardError(
                        f"{what}: row {row}: {name} does not hold 3 × "
                        f"{natoms[row].as_py()} coordinates"
                    )


def csv_text(rows: Sequence[dict], columns: Sequence[str]) -> str:
    """``rows`` as CSV text with ``columns`` in order, floats to 6 significant digits."""
    return pd.DataFrame(list(rows), columns=list(columns)).to_csv(index=False, float_format="%.6g")
