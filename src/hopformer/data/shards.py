"""Parquet shards: written atomically, validated on read (schema, lengths, finite values).

A shard that cannot be read, or whose contents break the schema, raises :class:`ShardError`
naming the file, so a corrupted or truncated shard never flows silently into a later stage.
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

from hopformer.data.schema import POSITION_COLUMNS
from hopformer.physics.io import atomic_path


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
    """Several validated shards of one schema, concatenated in the given order."""
    tables = [read_table(p, schema) for p in paths]
    return pa.concat_tables(tables) if tables else schema.empty_table()


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
