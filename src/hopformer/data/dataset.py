"""The transformer's dataset: distinct transitions, split by initial state.

From the campaign's transition Parquet files (one per splicing round) keep one row per
distinct transition (initial state → final state) — its first observation in (round, worker,
segment, block) order, with ``count`` = how often MD saw it — and split the rows into
train / val / test *by initial state*, so that no initial state is in two splits and the
held-out numbers measure generalisation to unseen minima, not recall of seen ones.

The split is a pure function of (seed, state id): each initial state gets a rank from a hash
of both, and the lowest-ranked states go to test, the next to val. Adding rounds to a campaign
therefore moves no state that was already assigned unless the quotas change.

A minimum and its mirror image are two states (no rotation superposes them) but one problem
for the transformer, which is reflection-equivariant (docs/design.md §6): the transitions of
one are those of the other, mirrored. So enantiomers go to one split together, ranked by the
lower state id (:func:`enantiomer_classes`); a campaign without them splits as before.
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
from hopformer.physics.states import SAME_STATE_TOL, same_state

#: eV: enantiomers are one energy up to the quench's reproducibility (~1e-6 eV); only pairs
#: this close are tested geometrically.
MIRROR_ENERGY_TOL = 1e-4

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


def enantiomer_classes(table: pa.Table, tol: float = SAME_STATE_TOL) -> dict[int, int]:
    """Each initial state of ``table`` → the lowest state id among it and its mirror images
    (the state-identity test after a reflection, for pairs within MIRROR_ENERGY_TOL)."""
    first: dict[int, tuple[float, np.ndarray, np.ndarray]] = {}
    for s, e, x, z in zip(
        *(table.column(c).to_pylist() for c in ("initial_state", "initial_energy")),
        table.column("initial_positions").to_pylist(),
        table.column("numbers").to_pylist(),
        strict=True,
    ):
        if s not in first:
            first[s] = (e, np.reshape(x, (-1, 3)), np.asarray(z))
    parent = {s: s for s in first}

    def root(s: int) -> int:
        while parent[s] != s:
            s = parent[s]
        return s

    order = sorted(first, key=lambda s: first[s][0])
    for i, a in enumerate(order):
        ea, xa, za = first[a]
        for b in order[i + 1 :]:
            eb, xb, zb = first[b]
            if eb - ea > MIRROR_ENERGY_TOL:
                break
            if len(za) == len(zb) and np.array_equal(np.sort(za), np.sort(zb)):
                if same_state(xa, xb * [-1.0, 1.0, 1.0], za, tol, relabel=True):
                    ra, rb = root(a), root(b)
                    parent[max(ra, rb)] = min(ra, rb)
    return {s: root(s) for s in first}


def assign_splits(
    states: Sequence[int], spec: SplitSpec, classes: dict[int, int] | None = None
) -> dict[int, str]:
    """Split of every initial state (see module doc); needs ≥ 3 states. ``classes`` maps a
    state to its class (its enantiomers' lowest id): a class goes to one split, ranked and
    counted as one."""
    states = sorted(set(int(s) for s in states))
    if len(states) < 3:
        raise ValueError(
            f"the transitions hold {len(states)} distinct initial state(s); a train/val/test "
            f"split needs at least 3 (run more splicing: splicing.rounds, workers or segment_ps)"
        )
    class_of = {s: (classes or {}).get(s, s) for s in states}
    ranked = sorted(set(class_of.values()), key=lambda c: state_rank(spec.seed, c))
    n = len(ranked)
    if n < 3:
        raise ValueError(
            f"the transitions' {len(states)} initial states are {n} up to mirror images; a "
            "train/val/test split needs at least 3 (run more splicing)"
        )
    n_test = max(1, math.floor(spec.test_fraction * n))
    n_val = max(1, math.floor(spec.val_fraction * n))
    n_test = min(n_test, n - 2)
    n_val = min(n_val, n - n_test - 1)
    split = {c: "train" for c in ranked}
    split |= {c: "test" for c in ranked[:n_test]}
    split |= {c: "val" for c in ranked[n_test : n_test + n_val]}
    return {s: split[class_of[s]] for s in states}


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
    classes = enantiomer_classes(table)
    split_of = assign_splits(table.column("initial_state").to_pylist(), spec, classes)
    splits = [split_of[s] for s in table.column("initial_state").to_pylist()]
    table = table.append_column("split", pa.array(splits, pa.string()))
    manifest: dict = {
        "inputs": {str(p): sha256_of(p) for p in transition_files},
        "seed": spec.seed,
        "val_fraction": spec.val_fraction,
        "test_fraction": spec.test_fraction,
        "observations": int(pc.sum(table.column("count")).as_py()),
        "distinct_transitions": table.num_rows,
        "enantiomer_pairs": sum(c != s for s, c in classes.items()),
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
