"""The transformer's learning curve (docs/design.md §6, "Learning curve"): how its figures grow
with the amount of MD data, on a protocol that does not move.

A *point* is one training: the campaign's model and steps on a share ``fraction`` of the train
split's initial states (all transitions from a chosen state come along, so no state is split),
with seed ``replica`` (its training seed is ``seed_of(seed, LEARNING_TRAIN, replica)``,
rules/common.smk). The states are taken in one seeded order per replica, so a replica's
subsets are nested: its 1/8 contains its 1/16. Every point is judged on the same test subset
(the same seeded choices as ``evaluate-transformer``): accuracy(k) beside its model-free
baseline, and on the same explored states the exploration yield (distinct new minima per
candidate) beside the model-free site moves and kicks, and the **no-hint recovery** — the share
of the explored states' MD transitions found among the unhinted draws.

:func:`curve` pools the points of a fraction into a mean and a spread (sample standard
deviation over replicas, and min/max), and :func:`trend` fits each figure against log10 of
the training transitions: the slope per decade of data, and where the line would be at 10×
and 100× the largest dataset (a straight-line extrapolation, a guide and no more).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hopformer.physics.relax import Relaxer
from hopformer.streams import LEARNING_SUBSET, rng
from hopformer.transformer.evaluation import accuracy, accuracy_subset
from hopformer.transformer.examples import Example
from hopformer.transformer.exploration import COUNTERPART, explore, explored_groups
from hopformer.transformer.network import TransitionModel

#: Exploration kinds whose yield per candidate a point records (the model's, then the
#: model-free counterparts).
YIELD_KINDS = ("surface", "site_move", "sampled", "kick", "model", "model_free")
#: The suffixes of a pooled figure: mean, sample standard deviation over replicas, range.
STATS = ("", "_std", "_min", "_max")


def subset(table: pa.Table, fraction: float, seed: int, replica: int) -> pa.Table:
    """The rows of ``table`` (a dataset split) whose initial state is among the first
    ⌈fraction · states⌉ of the replica's seeded order of states (at least one)."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction {fraction!r}: expected a share in (0, 1]")
    states = np.unique(table.column("initial_state").to_numpy())
    if not states.size:
        raise ValueError("the train split is empty: no state to take a share of")
    order = rng(seed, LEARNING_SUBSET, replica).permutation(states.size)
    keep = states[order[: max(1, math.ceil(fraction * states.size - 1e-9))]]
    return table.filter(pc.is_in(table.column("initial_state"), pa.array(np.sort(keep))))


def judge(
    model: TransitionModel,
    relaxer: Relaxer,
    test: Sequence[Example],
    hint_sizes: Sequence[int],
    max_transitions: int | None,
    max_states: int | None,
    samples: int,
    surface_hints: int,
    seed: int,
    log: Callable[[str], None] = lambda m: None,
) -> dict:
    """One point's figures: accuracy(k) rows and the exploration summary on the fixed subsets."""
    examples = accuracy_subset(test, max_transitions, seed)
    if not examples:
        raise ValueError("the test split is empty")
    rows, _ = accuracy(model, relaxer, examples, hint_sizes, log=log)
    groups = explored_groups(test, max_states, seed)
    _, explored = explore(model, relaxer, groups, samples, surface_hints, seed, log=log)
    return {"accuracy": rows, "exploration": explored}


def point_row(fraction: float, replica: int, train: pa.Table, judged: dict, training: dict) -> dict:
    """A point as one flat table row (the per-point table, and the input of :func:`curve`)."""
    row = {
        "fraction": fraction,
        "replica": replica,
        "train_states": len(set(train.column("initial_state").to_pylist())),
        "train_transitions": train.num_rows,
        "steps": training["steps"],
        "best_val_loss": training["best_val_loss"],
        "final_val_loss": training["final_val_loss"],
    }
    for r in judged["accuracy"]:
        row[f"accuracy_k{r['k']}"] = r["accuracy"]
        row[f"baseline_k{r['k']}"] = r["baseline_accuracy"]
    methods = judged["exploration"]["methods"]
    for kind in YIELD_KINDS:
        row[f"yield_{kind}"] = methods[kind]["per_candidate"]
    for model_kind, free_kind in COUNTERPART.items():
        mine, free = (methods[k]["per_candidate"] for k in (model_kind, free_kind))
        row[f"{model_kind}_vs_{free_kind}"] = mine / free if free else None
    row["recovery"] = methods["sampled"]["md_recovered_fraction"]
    row["recovery_kick"] = methods["kick"]["md_recovered_fraction"]
    row["explored_md_transitions"] = judged["exploration"]["md_transitions"]
    row["accuracy_transitions"] = judged["accuracy"][0]["transitions"]
    return row


def figures(rows: Sequence[dict]) -> list[str]:
    """The numeric figures of the point rows (everything but the point's identity), in the
    tables' order: data, losses, accuracy then baseline by k, yields, ratios, recovery."""
    skip = {"fraction", "replica", "steps"}
    names = {k for r in rows for k in r if k not in skip}
    head = ["train_states", "train_transitions", "best_val_loss", "final_val_loss"]
    by_k = sorted(
        (n for n in names if re.fullmatch(r"(accuracy|baseline)_k\d+", n)),
        key=lambda n: (n.startswith("baseline"), int(n.rsplit("_k", 1)[1])),
    )
    yields = [f"yield_{k}" for k in YIELD_KINDS]
    ordered = [n for n in (*head, *by_k, *yields) if n in names]
    return ordered + sorted(names - set(ordered))


def curve(rows: Sequence[dict]) -> list[dict]:
    """One row per fraction: every figure's mean, spread (``_std``, sample standard deviation
    over replicas; 0 for one) and range (``_min``, ``_max``), and the replicas pooled."""
    by_fraction: dict[float, list[dict]] = defaultdict(list)
    for r in rows:
        by_fraction[r["fraction"]].append(r)
    out = []
    for fraction in sorted(by_fraction):
        group = by_fraction[fraction]
        row: dict = {"fraction": fraction, "replicas": len(group)}
        for name in figures(group):
            values = np.array([r[name] for r in group if r.get(name) is not None], dtype=float)
            if not values.size:
                row |= {f"{name}{s}": None for s in STATS}
                continue
            row[name] = float(values.mean())
            row[f"{name}_std"] = float(values.std(ddof=1)) if values.size > 1 else 0.0
            row[f"{name}_min"] = float(values.min())
            row[f"{name}_max"] = float(values.max())
        out.append(row)
    return out


def trend(rows: Sequence[dict], names: Sequence[str]) -> dict:
    """Each figure in ``names`` fitted against log10(train transitions) over every point:
    slope per decade, the fit at the largest dataset and the line at 10× and 100× it (clipped
    to [0, 1] for shares). None where fewer than two dataset sizes were measured."""
    out: dict = {}
    n = np.array([r["train_transitions"] for r in rows], dtype=float)
    x = np.log10(n)
    for name in names:
        y = np.array([np.nan if r.get(name) is None else r[name] for r in rows], dtype=float)
        ok = np.isfinite(y)
        if len(np.unique(x[ok])) < 2:
            out[name] = None
            continue
        slope, intercept = np.polyfit(x[ok], y[ok], 1)
        top = float(x.max())
        share = name.startswith(("accuracy", "baseline", "recovery"))

        def at(v, share=share, slope=slope, intercept=intercept):
            y_v = float(intercept + slope * v)
            return min(max(y_v, 0.0), 1.0) if share else y_v

        out[name] = {
            "slope_per_decade": float(slope),
            "at_largest": at(top),
            "at_10x": at(top + 1),
            "at_100x": at(top + 2),
        }
    return {"largest_train_transitions": int(n.max()), "fits": out}
