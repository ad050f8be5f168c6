"""The transformer's dataset: distinct transitions, split by initial state.

From the campaign's transition Parquet files (one per splicing round) keep one row per
distinct transition (initial state → final state) — its first observation in (round, worker,
segment, block) order, with ``count`` = how often MD saw it — and split the rows into
train / val / test *by initial state*, so that no initial state is in two splits and the
held-out numbers measure generalisation to unseen minima, not recall of seen ones.

The split is a pure function of (seed, state id): each initial state gets a rank from a hash
of both, and the lowest-ranked states go to test, the next to val. Adding rounds to a campaign
therefore moves no state that was already assigned unless the quotas change.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hopformer.data import schema
from hopformer.data.shards import read_tables, write_table
from hopformer.physics.io import sha256_of, write_json_atomic

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class SplitSpec:
    """Shares of initial states held out (each split gets at least one state)."""

    val_fraction: float = 0.1
    test_fraction: float = 0.2
    seed: int = 0

    def __post_init__(self):
        for name in ("val_fraction", "test_fraction"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                raise ValueError(f"dataset.{name} must be in (0, 1), got {value}")
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ValueError(
                f"dataset.val_fraction + dataset.test_fraction must be < 1 (nothing left to "
                f"train on), got {self.val_fraction} + {self.test_fraction}"
            )


def deduplicate(table: pa.Table) -> pa.Table:
    """One row per (initial_state, final_state), the first observed, with a ``count`` column."""
    order = pc.sort_indices(
        table,
        sort_keys=[(k, "ascending") for k in ("round", "worker", "segment", "block")],
    )
    table = table.take(order)
    pairs = list(
        zip(
            table.column("initial_state").to_pylist(),
            table.column("final_state").to_pylist(),
            strict=True,
        )
    )
    first: dict[tuple[int, int], int] = {}
    counts: dict[tuple[int, int], int] = {}
    for row, pair in enumerate(pairs):
        first.setdefault(pair, row)
        counts[pair] = counts.get(pair, 0) + 1
    rows = sorted(first.values())
    out = table.take(pa.array(rows, type=pa.int64()))
    return out.append_column("count", pa.array([counts[pairs[r]] for r in rows], pa.int64()))


def state_rank(seed: int, state: int) -> int:
    digest = hashlib.blake2b(f"{seed}:{state}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def assign_splits(states: Sequence[int], spec: SplitSpec) -> dict[int, str]:
    """Split of every initial state (see module doc); needs ≥ 3 states."""
    states = sorted(set(int(s) for s in states))
    if len(states) < 3:
        raise ValueError(
            f"the transitions hold {len(states)} distinct initial state(s); a train/val/test "
            f"split needs at least 3 (run more splicing: splicing.rounds, workers or segment_ps)"
        )
    ranked = sorted(states, key=lambda s: state_rank(spec.seed, s))
    n_test = max(1, math.floor(spec.test_fraction * len(states)))
    n_val = max(1, math.floor(spec.val_fraction * len(states)))
    n_test = min(n_test, len(states) - 2)
    n_val = min(n_val, len(states) - n_test - 1)
    split = {s: "train" for s in states}
    split |= {s: "test" for s in ranked[:n_test]}
    split |= {s: "val" for s in ranked[n_test : n_test + n_val]}
    return split


def split_paths(folder: str | os.PathLike) -> dict[str, Path]:
    folder = Path(folder)
    return {name: folder / f"{name}.parquet" for name in SPLITS}


def make_dataset(
    transition_files: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    spec: SplitSpec,
    manifest_path: str | os.PathLike | None = None,
) -> dict:
    """Read, deduplicate and split the transitions; write the splits and a manifest."""
    table = deduplicate(read_tables(transition_files, schema.TRANSITIONS))
    split_of = assign_splits(table.column("initial_state").to_pylist(), spec)
    splits = [split_of[s] for s in table.column("initial_state").to_pylist()]
    table = table.append_column("split", pa.array(splits, pa.string()))
    manifest: dict = {
        "inputs": {str(p): sha256_of(p) for p in transition_files},
        "seed": spec.seed,
        "val_fraction": spec.val_fraction,
        "test_fraction": spec.test_fraction,
        "observations": int(pc.sum(table.column("count")).as_py()),
        "distinct_transitions": table.num_rows,
        "atoms": sorted({len(n) for n in table.column("numbers").to_pylist()}),
        "splits": {},
    }
    for name, path in split_paths(out_dir).items():
        part = table.filter(pc.equal(table.column("split"), name))
        write_table(part, path, schema.DATASET)
        manifest["splits"][name] = {
            "file": path.name,
            "transitions": part.num_rows,
            "initial_states": len(set(part.column("initial_state").to_pylist())),
            "observations": int(pc.sum(part.column("count")).as_py() or 0),
            "median_atoms_moved": float(np.median(part.column("atoms_moved").to_numpy()))
            if part.num_rows
            else None,
        }
    write_json_atomic(manifest_path or Path(out_dir) / "manifest.json", manifest)
    return manifest
