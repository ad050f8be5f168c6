"""Collecting the validation shards (rule ``collect_tables``): the campaign's rate/energy
table, the most common transitions, MD rates against harmonic-TST rates, extxyz paths.

The MD rate of a transition is k_ij = N_ij / τ_i from the splicing stage (md/rates.parquet);
the hTST rate is k = ν·exp(−Ea/k_B T) from the validated band and Vineyard prefactor. They
are compared only where the band is one converged elementary step with a first-order saddle
(``neb_status`` ok); the ratio is hTST / MD.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Sequence

import numpy as np
import pandas as pd

from hopformer.data import schema
from hopformer.data.shards import read_table, read_tables, write_rows
from hopformer.physics.htst import htst_rate
from hopformer.physics.io import atomic_dir, write_json_atomic, write_text_atomic
from hopformer.report.plots import plot_mep, plot_rates
from hopformer.transformer.exploration import COUNTERPART
from hopformer.validation.shard import write_path

GEOMETRY = ("numbers", "initial_positions", "final_positions", "path_energies", "path_positions")


def rate_table(
    rows: Sequence[dict],
    md_rates: Sequence[dict],
    temperature: float,
    temperatures: Sequence[float],
) -> list[dict]:
    """Rate/energy rows: every validated transition with its hTST and MD rates."""
    md = {(r["initial_state"], r["final_state"]): r for r in md_rates}
    out = []
    for row in rows:
        r = {k: v for k, v in row.items() if k not in GEOMETRY and k != "path_images"}
        ok = row["neb_status"] == "ok"
        r["temperature"] = temperature
        r["htst_rate_per_ps"] = (
            htst_rate(row["prefactor_thz"], row["barrier"], temperature) if ok else None
        )
        r["htst_temperatures"] = [float(t) for t in temperatures]
        r["htst_rates_per_ps"] = (
            [htst_rate(row["prefactor_thz"], row["barrier"], t) for t in temperatures] if ok else []
        )
        m = md.get((row["initial_state"], row["final_state"])) if row["final_state"] >= 0 else None
        r["md_rate_per_ps"] = m["rate_per_ps"] if m else None
        r["md_rate_stderr_per_ps"] = m["rate_stderr_per_ps"] if m else None
        out.append(r)
    out.sort(key=lambda r: (-r["md_count"], r["initial_state"], r["transition_id"]))
    return out


def rate_csv(rows: Sequence[dict], temperatures: Sequence[float]) -> str:
    """The rate table as CSV, with one ``htst_rate_<T>K_per_ps`` column per listed T."""
    flat = []
    for r in rows:
        f = {k: v for k, v in r.items() if k not in ("htst_temperatures", "htst_rates_per_ps")}
        rates = dict(zip(r["htst_temperatures"], r["htst_rates_per_ps"], strict=False))
        for t in temperatures:
            f[f"htst_rate_{t:g}K_per_ps"] = rates.get(float(t))
        flat.append(f)
    columns = [
        c for c in schema.RATE_TABLE.names if c not in ("htst_temperatures", "htst_rates_per_ps")
    ]
    columns += [f"htst_rate_{t:g}K_per_ps" for t in temperatures]
    return pd.DataFrame(flat, columns=columns).to_csv(index=False, float_format="%.10g")


def methods(table: Sequence[dict], counts: Counter) -> dict:
    """The model's exploration kinds beside their model-free counterparts on the same held-out
    states and hints (docs/design.md §7): per kind its candidates, the distinct transitions
    its candidates reached, how many of those NEB validated as elementary (``ok``) and how
    many MD never saw, and validated ones per candidate; then each model kind's yield over
    its counterpart's."""
    out: dict = {}
    for kind in (*COUNTERPART, *COUNTERPART.values()):
        mine = [r for r in table if kind in r["hint_kinds"].split(",")]
        ok = [r for r in mine if r["neb_status"] == "ok"]
        n = counts.get(f"{kind}_candidates", 0)
        out[kind] = {
            "candidates": n,
            "distinct": len(mine),
            "validated": len(ok),
            "validated_novel": sum(r["novel"] for r in ok),
            "validated_per_candidate": len(ok) / n if n else 0.0,
        }
    for model_kind, free_kind in COUNTERPART.items():
        free = out[free_kind]["validated_per_candidate"]
        mine = out[model_kind]["validated_per_candidate"]
        out[f"{model_kind}/{free_kind}"] = mine / free if free else None
    return out


def top_transitions(rows: Sequence[dict], total_md: int, top: int) -> list[dict]:
    """The ``top`` transitions MD saw most often (the paper's table of the most common ones):
    share of all MD transitions, final energy above the initial one, barrier, rates."""
    seen = sorted(
        (r for r in rows if r["md_count"] > 0), key=lambda r: (-r["md_count"], r["transition_id"])
    )[:top]
    return [
        {
            "rank": i + 1,
            "transition_id": r["transition_id"],
            "md_count": r["md_count"],
            "frequency": r["md_count"] / total_md if total_md else 0.0,
            "delta_energy": r["delta_energy"],
            "final_energy": r["final_energy"],
            "atoms_moved": r["atoms_moved"],
            "neb_status": r["neb_status"],
            "barrier": r["barrier"],
            "htst_rate_per_ps": r["htst_rate_per_ps"],
            "md_rate_per_ps": r["md_rate_per_ps"],
            "found_by": r["found_by"],
        }
        for i, r in enumerate(seen)
    ]


def compare_rates(
    rows: Sequence[dict], min_count: int, factor: float = 3.0
) -> tuple[list[dict], dict]:
    """hTST / MD rate ratios of every MD-seen transition with an hTST rate, and a summary
    over those seen at least ``min_count`` times."""
    pairs = []
    for r in rows:
        if r["md_rate_per_ps"] is None or r["htst_rate_per_ps"] is None:
            continue
        ratio = r["htst_rate_per_ps"] / r["md_rate_per_ps"]
        pairs.append(
            {
                "transition_id": r["transition_id"],
                "md_count": r["md_count"],
                "barrier": r["barrier"],
                "prefactor_thz": r["prefactor_thz"],
                "md_rate_per_ps": r["md_rate_per_ps"],
                "md_rate_stderr_per_ps": r["md_rate_stderr_per_ps"],
                "htst_rate_per_ps": r["htst_rate_per_ps"],
                "ratio": ratio,
                "within_factor": 1 / factor <= ratio <= factor,
            }
        )
    pairs.sort(key=lambda p: (-p["md_count"], p["transition_id"]))
    frequent = [p for p in pairs if p["md_count"] >= min_count]
    logs = [math.log10(p["ratio"]) for p in frequent]
    summary = {
        "min_count": min_count,
        "factor": factor,
        "compared": len(frequent),
        "within_factor": sum(p["within_factor"] for p in frequent),
        "geometric_mean_ratio": 10 ** float(np.mean(logs)) if logs else None,
        "median_ratio": 10 ** float(np.median(logs)) if logs else None,
        "all_md_seen_compared": len(pairs),
        "all_within_factor": sum(p["within_factor"] for p in pairs),
    }
    return pairs, summary


def write_paths(rows: Sequence[dict], folder: str | os.PathLike) -> int:
    """One extxyz per transition with a path, into ``folder`` (replaced as a whole)."""
    n = 0
    with atomic_dir(folder) as tmp:
        for row in rows:
            if row["path_images"]:
                write_path(row, tmp / f"{row['transition_id']}.extxyz")
                n += 1
    return n


def collect(
    shards: Sequence[str | os.PathLike],
    shard_summaries: Sequence[dict],
    md_rates: str | os.PathLike,
    temperature: float,
    temperatures: Sequence[float],
    compare_min_count: int,
    top: int,
    out: dict[str, str | os.PathLike],
    accuracy: str | os.PathLike | None = None,
) -> dict:
    """Write every collected output named in ``out`` (keys: rates, csv, top, compare, summary,
    paths, mep_plot, rate_plot) and return the summary; ``accuracy`` (the ACCURACY table) is
    carried into the summary, so one file holds the campaign's numbers."""
    rows = read_tables(shards, schema.VALIDATION).to_pylist()
    md = read_table(md_rates, schema.RATES).to_pylist()
    table = rate_table(rows, md, temperature, temperatures)
    write_rows(table, out["rates"], schema.RATE_TABLE)
    write_text_atomic(out["csv"], rate_csv(table, temperatures))
    total_md = sum(r["count"] for r in md)
    tops = top_transitions(table, total_md, top)
    write_text_atomic(out["top"], pd.DataFrame(tops).to_csv(index=False, float_format="%.10g"))
    pairs, comparison = compare_rates(table, compare_min_count)
    write_text_atomic(
        out["compare"],
        pd.DataFrame(
            pairs,
            columns=[
                "transition_id",
                "md_count",
                "barrier",
                "prefactor_thz",
                "md_rate_per_ps",
                "md_rate_stderr_per_ps",
                "htst_rate_per_ps",
                "ratio",
                "within_factor",
            ],
        ).to_csv(index=False, float_format="%.6g"),
    )
    n_paths = write_paths(rows, out["paths"])
    plot_mep(rows, out["mep_plot"])
    plot_rates(pairs, compare_min_count, temperature, out["rate_plot"])
    counts: Counter = Counter()
    for s in shard_summaries:
        counts.update(s)
    summary = {
        "temperature": temperature,
        "transitions": len(table),
        "by_status": dict(sorted(Counter(r["neb_status"] for r in table).items())),
        "by_found_by": dict(sorted(Counter(r["found_by"] for r in table).items())),
        "novel": sum(r["novel"] for r in table),
        "novel_validated": sum(r["novel"] and r["neb_status"] == "ok" for r in table),
        "held_out_states": counts.get("held_out_states", 0),
        "md_only_states": counts.get("md_only_states", 0),
        "candidates": {
            k: v
            for k, v in sorted(counts.items())
            if k.endswith("_candidates")
            or k.startswith("rejected_")
            or k in ("back_to_initial", "new_minimum")
        },
        "paths": n_paths,
        "md_vs_htst": comparison,
        "methods": methods(table, counts),
    }
    if accuracy is not None:
        summary["accuracy"] = [
            {k: r[k] for k in ("k", "k_fraction", "transitions", "accuracy", "baseline_accuracy")}
            for r in read_table(accuracy, schema.ACCURACY).to_pylist()
        ]
    write_json_atomic(out["summary"], summary)
    return summary
