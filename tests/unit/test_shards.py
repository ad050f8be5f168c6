"""Parquet shards: schema-checked, atomic, and bad shards named by file."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hopformer.data import schema
from hopformer.data.shards import ShardError, read_table, write_rows


def _state_row(state=0, natoms=2, energy=-1.0):
    return {
        "state": state,
        "key": "k",
        "energy": energy,
        "numbers": [78] * natoms,
        "positions": np.arange(3.0 * natoms),
        "first_round": 0,
        "residence_ps": 1.5,
    }


def test_round_trip_keeps_float64_and_order(tmp_path):
    rows = [_state_row(0), _state_row(1, energy=-2.0)]
    path = write_rows(rows, tmp_path / "states.parquet", schema.STATES)
    table = read_table(path, schema.STATES)
    assert table.schema.equals(schema.STATES)
    assert table.column("positions").to_pylist()[1] == list(np.arange(6.0))
    assert table.column("energy").to_pylist() == [-1.0, -2.0]


def test_corrupted_shard_is_named(tmp_path):
    path = write_rows([_state_row()], tmp_path / "states.parquet", schema.STATES)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ShardError, match="states.parquet.*not a readable Parquet"):
        read_table(path, schema.STATES)


def test_wrong_schema_lengths_and_values_are_named(tmp_path):
    path = write_rows([_state_row()], tmp_path / "s.parquet", schema.STATES)
    with pytest.raises(ShardError, match=r"s.parquet: missing column\(s\) \['worker'"):
        read_table(path, schema.FRONTIER)

    table = pq.read_table(path)
    bad = table.set_column(4, "positions", [[[0.0] * 5]])  # 5 values for 2 atoms
    pq.write_table(bad, tmp_path / "short.parquet")
    with pytest.raises(ShardError, match=r"short.parquet: row 0: positions does not hold 3 × 2"):
        read_table(tmp_path / "short.parquet", schema.STATES)

    nan = table.set_column(2, "energy", [[float("nan")]])
    pq.write_table(nan, tmp_path / "nan.parquet")
    with pytest.raises(ShardError, match="nan.parquet: column energy has non-finite"):
        read_table(tmp_path / "nan.parquet", schema.STATES)


def test_a_failed_write_leaves_no_file(tmp_path):
    row = _state_row()
    row["positions"] = np.full(6, np.inf)
    with pytest.raises(ShardError, match="positions has non-finite"):
        write_rows([row], tmp_path / "states.parquet", schema.STATES)
    assert list(tmp_path.iterdir()) == []


def test_a_killed_writers_temporary_file_is_cleared_by_the_next_write(tmp_path):
    stale = tmp_path / ".states.parquet.abc123.tmp"
    stale.write_bytes(b"half a shard")
    write_rows([_state_row()], tmp_path / "states.parquet", schema.STATES)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["states.parquet"]


def test_every_column_of_every_schema_is_documented():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "results" / "README.md").read_text()
    names = [n for n in dir(schema) if isinstance(getattr(schema, n), pa.Schema)]
    assert len(names) >= 12
    for name in names:
        assert name in readme
        missing = [f.name for f in getattr(schema, name) if f.name not in readme]
        assert not missing, f"{name} columns missing from results/README.md: {missing}"


def test_atomic_outputs_get_ordinary_permissions(tmp_path):
    """mkstemp files are private (0600); shared results must not be."""
    import os
    import stat

    old = os.umask(0o022)
    try:
        path = write_rows([_state_row()], tmp_path / "states.parquet", schema.STATES)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
