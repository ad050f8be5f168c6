"""Data that is well-formed but inconsistent: the readers check meaning, not only types — one
campaign's shards agree on campaign, temperature and potential, no shard is counted twice, a
transition is a change of state, counts and times are never negative. Real shards of the
finished tiny campaign, edited; every case names the file and leaves the campaign as it was."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from harness import snapshot
from hopformer.data import schema
from hopformer.data.dataset import SplitSpec, make_dataset
from hopformer.data.shards import ShardError, read_table
from hopformer.splicing.splice import RoundInputs, splice_round


@pytest.fixture(scope="module")
def untouched(finished):
    before = snapshot(finished.results)
    yield finished
    assert snapshot(finished.results) == before, "the finished campaign was changed"


def _edited(src, dst, **columns):
    """A copy of shard ``src`` at ``dst`` with ``columns`` replaced (value, or fn(column))."""
    table = pq.read_table(src)
    for name, value in columns.items():
        old = table.column(name)
        new = value(old) if callable(value) else pa.array([value] * len(table), old.type)
        table = table.set_column(table.column_names.index(name), name, new)
    pq.write_table(table, dst)
    return dst


def _transitions(wf, r):
    return wf.results / f"transitions/round-{r:03d}.parquet"


def _dataset(files, tmp_path):
    out = tmp_path / "dataset"
    with pytest.raises(ShardError) as err:
        make_dataset(files, out, SplitSpec())
    assert not out.exists(), "nothing written"
    return str(err.value)


def test_the_same_transitions_file_twice_is_refused(untouched, tmp_path):
    path = _transitions(untouched, 0)
    message = _dataset([path, path], tmp_path)
    assert f"shard {path} is given twice" in message


def test_a_copy_of_a_transitions_file_is_refused(untouched, tmp_path):
    copy = tmp_path / "copy.parquet"
    copy.write_bytes(_transitions(untouched, 1).read_bytes())
    message = _dataset([_transitions(untouched, 0), _transitions(untouched, 1), copy], tmp_path)
    assert f"{copy} is a copy of {_transitions(untouched, 1)}" in message


@pytest.mark.parametrize(
    "column, value",
    [("temperature", 1200.0), ("potential_sha256", "0" * 64), ("campaign", "other")],
)
def test_shards_of_another_campaign_setup_are_refused(untouched, tmp_path, column, value):
    foreign = _edited(_transitions(untouched, 1), tmp_path / "foreign.parquet", **{column: value})
    message = _dataset([_transitions(untouched, 0), foreign], tmp_path)
    assert f"shards of different {column} read together" in message and str(foreign) in message


def test_a_transition_to_its_own_state_is_refused(untouched, tmp_path):
    src = untouched.results / "dataset/train.parquet"
    first = pq.read_table(src).column("initial_state")[0].as_py()

    def back_home(column):
        return pa.array([first] + column.to_pylist()[1:], column.type)

    bad = _edited(src, tmp_path / "train.parquet", final_state=back_home)
    with pytest.raises(ShardError, match=r"train\.parquet: row 0: initial_state = final_state"):
        read_table(bad, schema.DATASET)


@pytest.mark.parametrize(
    "path, column, table",
    [
        ("dataset/train.parquet", "count", schema.DATASET),
        ("transitions/round-000.parquet", "dwell_ps", schema.TRANSITIONS),
        ("splice/round-000/worker-000/segments.parquet", "blocks", schema.SEGMENT_SHARD),
        ("md/rates.parquet", "residence_ps", schema.RATES),
    ],
)
def test_a_negative_count_or_time_is_refused(untouched, tmp_path, path, column, table):
    bad = _edited(
        untouched.results / path, tmp_path / "bad.parquet", **{column: lambda c: pc.negate(c)}
    )
    with pytest.raises(ShardError, match=rf"bad\.parquet: row 0: {column} = -.* is negative"):
        read_table(bad, table)


def _round(wf, shards, tmp_path, round_=0):
    inp = RoundInputs(
        round=round_, previous=None, cluster=wf.results / "reference/cluster.extxyz", shards=shards
    )
    out = tmp_path / "round"
    with pytest.raises((ShardError, ValueError)) as err:
        splice_round(inp, out, tmp_path / "t.parquet", 2, 2, seed=0, log=lambda m: None)
    assert not out.exists() and not (tmp_path / "t.parquet").exists(), "nothing written"
    return str(err.value)


def _worker(wf, r, w):
    d = wf.results / f"splice/round-{r:03d}/worker-{w:03d}"
    return d / "segments.parquet", d / "transitions.parquet"


def test_the_same_worker_shard_twice_is_refused(untouched, tmp_path):
    message = _round(untouched, [_worker(untouched, 0, 0), _worker(untouched, 0, 0)], tmp_path)
    assert "is given twice" in message


def test_a_renamed_copy_of_a_worker_shard_is_refused(untouched, tmp_path):
    seg, tr = _worker(untouched, 0, 1)
    (tmp_path / "w").mkdir()
    copies = tmp_path / "w/segments.parquet", tmp_path / "w/transitions.parquet"
    for src, dst in zip((seg, tr), copies, strict=True):
        dst.write_bytes(src.read_bytes())
    message = _round(untouched, [_worker(untouched, 0, 0), (seg, tr), copies], tmp_path)
    assert "is a copy of" in message


def test_a_worker_shard_of_another_round_is_refused(untouched, tmp_path):
    message = _round(untouched, [_worker(untouched, 0, 0), _worker(untouched, 1, 1)], tmp_path)
    assert "rows of round 1, but this is round 0" in message


def test_a_worker_shard_relabelled_as_another_worker_is_refused(untouched, tmp_path):
    seg, tr = _worker(untouched, 0, 0)
    (tmp_path / "w").mkdir()
    relabelled = (
        _edited(seg, tmp_path / "w/segments.parquet", dephase_ps=lambda c: pc.add(c, 1e-3)),
        _edited(tr, tmp_path / "w/transitions.parquet", dwell_ps=lambda c: pc.add(c, 1e-3)),
    )
    message = _round(untouched, [(seg, tr), relabelled], tmp_path)
    assert "rows of worker 0, whose shards" in message


def test_a_worker_shard_at_another_temperature_is_refused(untouched, tmp_path):
    seg, tr = _worker(untouched, 0, 1)
    hot = _edited(tr, tmp_path / "transitions.parquet", temperature=1500.0)
    message = _round(untouched, [_worker(untouched, 0, 0), (seg, hot)], tmp_path)
    assert "shards of different temperature" in message


def test_a_truncated_shard_is_named(untouched, tmp_path):
    blob = _transitions(untouched, 0).read_bytes()
    (tmp_path / "cut.parquet").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ShardError, match=r"cut\.parquet: not a readable Parquet file"):
        read_table(tmp_path / "cut.parquet", schema.TRANSITIONS)


def test_a_shard_without_a_column_is_named(untouched, tmp_path):
    table = pq.read_table(_transitions(untouched, 0)).drop_columns(["final_state"])
    pq.write_table(table, tmp_path / "short.parquet")
    with pytest.raises(ShardError, match=r"short\.parquet: missing column\(s\) \['final_state'\]"):
        read_table(tmp_path / "short.parquet", schema.TRANSITIONS)


def test_a_shard_with_nan_positions_is_named(untouched, tmp_path):
    def poison(c):
        values = c.to_pylist()
        values[0] = [float("nan")] + values[0][1:]
        return pa.array(values, c.type)

    bad = _edited(_transitions(untouched, 0), tmp_path / "nan.parquet", final_positions=poison)
    with pytest.raises(ShardError, match=r"nan\.parquet: column final_positions has non-finite"):
        read_table(bad, schema.TRANSITIONS)
