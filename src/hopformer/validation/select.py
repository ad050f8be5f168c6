"""Which transitions a validation shard takes: every MD transition out of the held-out
states (a seeded choice of the test split's initial states, the same choice exploration
makes), and the frequent MD transitions of the other splits (for the MD-vs-hTST comparison);
the states are dealt to shards round-robin (:func:`~hopformer.validation.shard.assign_shards`)."""

from __future__ import annotations

import os

from hopformer.data import schema
from hopformer.data.shards import read_table
from hopformer.streams import STATE_CHOICE, chosen
from hopformer.transformer.examples import Example, read_examples
from hopformer.validation.shard import assign_shards, shard_groups


def _rows(path: str | os.PathLike, columns: list[str]) -> list[dict]:
    return read_table(path, schema.DATASET).select(columns).to_pylist()


def validation_rows(
    train, val, test, max_states: int | None, md_min_count: int | None, seed: int
) -> list[tuple[Example, int, bool]]:
    """(example, MD count, held out) of every transition to validate, from the three splits."""
    counts = {}
    for split in (train, val, test):
        for row in _rows(split, ["initial_state", "final_state", "count"]):
            counts[(row["initial_state"], row["final_state"])] = row["count"]
    test_states = sorted({r["initial_state"] for r in _rows(test, ["initial_state"])})
    held = set(chosen(test_states, max_states, seed, STATE_CHOICE))
    rows = []
    for split, is_test in ((train, False), (val, False), (test, True)):
        for ex in read_examples(split):
            n = counts[(ex.initial_state, ex.final_state)]
            held_out = is_test and ex.initial_state in held
            if held_out or (md_min_count is not None and n >= md_min_count):
                rows.append((ex, n, held_out))
    return rows


def shard_of(rows: list[tuple[Example, int, bool]], shard: int, shards: int) -> dict:
    """The groups (initial state → (transitions, held out)) of shard ``shard`` of ``shards``."""
    if not 0 <= shard < shards:
        raise ValueError(f"--shard {shard}: expected 0..{shards - 1}")
    groups = shard_groups(rows)
    mine = set(assign_shards(list(groups), shards)[shard])
    return {s: g for s, g in groups.items() if s in mine}
