"""MD-observed rates: k_ij = N_ij / τ_i, with N_ij the transitions i → j seen in all MD
segments (spliced or banked) and τ_i the MD time spent in state i (maximum-likelihood
estimate for a Markov jump process; standard error k_ij / √N_ij)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from hopformer.data import schema
from hopformer.data.shards import read_table, to_table, write_table
from hopformer.physics.io import atomic_path, write_json_atomic
from hopformer.splicing.splice import round_paths


def md_rates(
    states: list[dict], edges: list[dict], temperature: float, min_count: int = 1
) -> list[dict]:
    """Rate rows for every edge seen at least ``min_count`` times, most frequent first."""
    rows = []
    for e in edges:
        if e["count"] < min_count:
            continue
        i, j = states[e["initial_state"]], states[e["final_state"]]
        tau = i["residence_ps"]
        if not tau > 0:
            raise ValueError(f"state {i['state']} has transitions out of it but no residence time")
        k = e["count"] / tau
        rows.append(
            {
                "initial_state": i["state"],
                "final_state": j["state"],
                "initial_key": i["key"],
                "final_key": j["key"],
                "initial_energy": i["energy"],
                "final_energy": j["energy"],
                "delta_energy": j["energy"] - i["energy"],
                "count": e["count"],
                "residence_ps": tau,
                "rate_per_ps": k,
                "rate_stderr_per_ps": k / np.sqrt(e["count"]),
                "temperature": temperature,
            }
        )
    rows.sort(key=lambda r: (-r["count"], r["initial_state"], r["final_state"]))
    return rows


def tabulate_rates(
    last_round: str | os.PathLike,
    temperature: float,
    out_parquet: str | os.PathLike,
    out_csv: str | os.PathLike,
    out_summary: str | os.PathLike,
    min_count: int = 1,
) -> dict:
    """Rate table of the campaign (Parquet + CSV) and the campaign summary from its last round."""
    paths = round_paths(last_round)
    states = read_table(paths["states"], schema.STATES).to_pylist()
    edges = read_table(paths["edges"], schema.EDGES).to_pylist()
    table = to_table(md_rates(states, edges, temperature, min_count), schema.RATES)
    write_table(table, out_parquet, schema.RATES)
    with atomic_path(out_csv) as tmp:
        table.to_pandas().to_csv(tmp, index=False, float_format="%.10g")
    summary = json.loads(Path(paths["summary"]).read_text())
    summary = {k: v for k, v in summary.items() if not k.endswith("_round") and k != "frontier"}
    summary |= {
        "rounds": summary.pop("round") + 1,
        "temperature": temperature,
        "rate_rows": table.num_rows,
        "rate_min_count": min_count,
    }
    write_json_atomic(out_summary, summary)
    return summary
