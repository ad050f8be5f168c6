"""Which transitions the validation shards take: every MD transition of the held-out states
(the exploration's seeded choice), the frequent ones of the other splits, states dealt to
shards without overlap."""

from __future__ import annotations

import numpy as np
import pytest

from hopformer.data import schema
from hopformer.data.shards import write_rows
from hopformer.streams import STATE_CHOICE, chosen
from hopformer.validation.select import shard_of, validation_rows


def _split(path, transitions):
    """A DATASET file of (initial state, final state, MD count) rows on a toy 4-atom cluster."""
    rng = np.random.default_rng(len(transitions))
    rows = []
    for i, f, count in transitions:
        x0 = rng.normal(0, 2, (4, 3))
        x1 = x0 + rng.normal(0, 0.5, (4, 3))
        d = np.linalg.norm(x1 - x0, axis=1)
        rows.append(
            {
                "campaign": "t",
                "round": 0,
                "worker": 0,
                "segment": 0,
                "block": 0,
                "initial_key": f"k{i}",
                "final_key": f"k{f}",
                "numbers": np.full(4, 78),
                "initial_positions": x0,
                "final_positions": x1,
                "initial_energy": 0.0,
                "final_energy": 0.0,
                "max_displacement": float(d.max()),
                "hyperdistance": float(np.linalg.norm(d)),
                "atoms_moved": 4,
                "time_ps": 0.0,
                "dwell_ps": 0.0,
                "temperature": 700.0,
                "potential_sha256": "x",
                "initial_state": i,
                "final_state": f,
                "count": count,
                "split": path.stem,
            }
        )
    write_rows(rows, path, schema.DATASET)
    return path


@pytest.fixture
def splits(tmp_path):
    train = _split(tmp_path / "train.parquet", [(0, 1, 5), (0, 2, 1), (1, 0, 3)])
    val = _split(tmp_path / "val.parquet", [(3, 4, 1)])
    test = _split(tmp_path / "test.parquet", [(5, 6, 1), (5, 7, 2), (8, 9, 1), (10, 11, 1)])
    return train, val, test


def test_held_out_states_and_frequent_md_transitions(splits):
    rows = validation_rows(*splits, max_states=None, md_min_count=3, seed=1)
    held = {(ex.initial_state, ex.final_state) for ex, _, h in rows if h}
    md_only = {(ex.initial_state, ex.final_state, n) for ex, n, h in rows if not h}
    assert held == {(5, 6), (5, 7), (8, 9), (10, 11)}
    assert md_only == {(0, 1, 5), (1, 0, 3)}  # seen ≥ 3 times, from the train/val splits
    only_held = validation_rows(*splits, max_states=None, md_min_count=None, seed=1)
    assert {(ex.initial_state, ex.final_state) for ex, _, _ in only_held} == held


def test_a_limit_takes_the_explorations_seeded_choice_of_states(splits):
    rows = validation_rows(*splits, max_states=2, md_min_count=None, seed=7)
    assert {ex.initial_state for ex, _, _ in rows} == set(chosen([5, 8, 10], 2, 7, STATE_CHOICE))


def test_shards_partition_the_states(splits):
    rows = validation_rows(*splits, max_states=None, md_min_count=3, seed=1)
    parts = [shard_of(rows, s, 3) for s in range(3)]
    states = [set(p) for p in parts]
    assert set().union(*states) == {0, 1, 5, 8, 10}
    assert sum(len(s) for s in states) == 5, "no state in two shards"
    held = {state: h for part in parts for state, (_, h) in part.items()}
    assert held == {0: False, 1: False, 5: True, 8: True, 10: True}
    with pytest.raises(ValueError, match="--shard 3: expected 0..2"):
        shard_of(rows, 3, 3)
