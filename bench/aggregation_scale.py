"""Aggregation at campaign scale: a splicing round's aggregation (state registry, splicing,
the next round's schedule) and the dataset build, timed at 10³, 10⁴, 10⁵ transitions.

A cluster campaign aggregates 10⁶ transitions and more; the growth exponent (log-log slope of
time against transitions) says whether that stays minutes. Target: exponent ≤ 1.2.

The shards are made from a finished campaign's real shards (default: results/default).
Its minima are replicated into as many distinct states as the size needs: each copy is
rotated and perturbed by 0.3 Å (more than the identity test's tolerance), and its energy is
spread over the campaign's own energy range, so the energy buckets fill as they would in a
big campaign. A walk over those states, revisiting each about twice, gives each worker its
segments and transitions. Each size runs in a fresh process, so the peak memory is its own.

Usage: python bench/aggregation_scale.py [--campaign results/default] [--sizes 1000,10000,100000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from scipy.spatial.transform import Rotation

from hopformer.data import schema
from hopformer.data.dataset import SplitSpec, make_dataset
from hopformer.data.shards import write_rows
from hopformer.physics.states import state_key
from hopformer.splicing.splice import RoundInputs, splice_round

WORKERS = 8
TRANSITIONS_PER_SEGMENT = 10


def _states(campaign: Path, n: int, rng: np.random.Generator):
    """``n`` distinct (positions, energy) minima made from the campaign's own."""
    table = pq.read_table(campaign / "transitions/round-000.parquet").to_pylist()
    pool = [(np.reshape(t["initial_positions"], (-1, 3)), t["initial_energy"]) for t in table]
    energies = np.array([e for _, e in pool])
    lo, hi = energies.min(), energies.max() + 0.5
    out = []
    for k in range(n):
        x, _ = pool[k % len(pool)]
        x = Rotation.random(random_state=rng).apply(x - x.mean(0))
        out.append((x + rng.normal(scale=0.3, size=x.shape), float(rng.uniform(lo, hi))))
    return out, table[0]


def make_shards(campaign: Path, n: int, folder: Path, seed: int = 0) -> list[tuple[Path, Path]]:
    """Worker shards of one round holding ``n`` transitions among n/2 states."""
    rng = np.random.default_rng(seed)
    states, template = _states(campaign, max(2, n // 2), rng)
    walk = [0]
    for _ in range(n):
        nxt = int(rng.integers(len(states) - 1))
        walk.append(nxt + (nxt >= walk[-1]))  # never to itself
    numbers = np.asarray(template["numbers"])
    per_worker = n // WORKERS
    shards = []
    for w in range(WORKERS):
        steps = walk[w * per_worker : (w + 1) * per_worker + 1]
        segs, trs = [], []
        for s, first in enumerate(range(0, per_worker, TRANSITIONS_PER_SEGMENT)):
            chain = steps[first : first + TRANSITIONS_PER_SEGMENT + 1]
            ids = {"campaign": template["campaign"], "round": 0, "worker": w, "segment": s}
            (x0, e0), (x1, e1) = states[chain[0]], states[chain[-1]]
            segs.append(
                ids
                | {
                    "start_key": state_key(e0, numbers),
                    "end_key": state_key(e1, numbers),
                    "numbers": numbers,
                    "start_positions": x0,
                    "end_positions": x1,
                    "start_energy": e0,
                    "end_energy": e1,
                    "duration_ps": 50.0,
                    "end_dwell_ps": 1.0,
                    "blocks": 50,
                    "transitions": len(chain) - 1,
                    "dephase_ps": 1.0,
                    "failed_quenches": 0,
                    "wall_s": 1.0,
                }
            )
            for b, (i, j) in enumerate(zip(chain[:-1], chain[1:], strict=True)):
                (xi, ei), (xj, ej) = states[i], states[j]
                trs.append(
                    template
                    | ids
                    | {
                        "block": b,
                        "initial_key": state_key(ei, numbers),
                        "final_key": state_key(ej, numbers),
                        "initial_positions": xi,
                        "final_positions": xj,
                        "initial_energy": ei,
                        "final_energy": ej,
                        "time_ps": float(b),
                        "dwell_ps": 1.0,
                    }
                )
        d = folder / f"worker-{w:03d}"
        seg, tr = d / "segments.parquet", d / "transitions.parquet"
        write_rows(segs, seg, schema.SEGMENT_SHARD)
        write_rows(trs, tr, schema.TRANSITION_SHARD)
        shards.append((seg, tr))
    return shards


def one(campaign: Path, n: int) -> dict:
    """Times and peak memory of one size, in this process."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        shards = make_shards(campaign, n, tmp / "shards")
        inp = RoundInputs(
            round=0, shards=shards, previous=None, cluster=campaign / "reference/cluster.extxyz"
        )
        t0 = time.perf_counter()
        summary = splice_round(
            inp, tmp / "round", tmp / "round-000.parquet", WORKERS, 5, seed=0, log=lambda m: None
        )
        t1 = time.perf_counter()
        make_dataset([tmp / "round-000.parquet"], tmp / "dataset", SplitSpec())
        t2 = time.perf_counter()
    return {
        "transitions": n,
        "states": summary["states_total"],
        "aggregation_s": t1 - t0,
        "dataset_s": t2 - t1,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def exponent(xs, ys) -> float:
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--campaign", default="results/default", help="a finished campaign's folder")
    p.add_argument("--sizes", default="1000,10000,100000", help="transitions, comma-separated")
    p.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    campaign = Path(args.campaign)
    if args.one is not None:
        print(json.dumps(one(campaign, args.one)))
        return
    if not (campaign / "transitions/round-000.parquet").is_file():
        sys.exit(f"{campaign}: no finished campaign there (run `make run` first)")
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        cmd = [sys.executable, __file__, "--campaign", str(campaign), "--one", str(n)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
        r = rows[-1]
        print(
            f"{r['transitions']:>8} transitions {r['states']:>7} states: aggregation "
            f"{r['aggregation_s']:8.2f} s, dataset {r['dataset_s']:7.2f} s, peak "
            f"{r['peak_mib']:7.0f} MiB",
            flush=True,
        )
    if len(rows) > 1:
        n = [r["transitions"] for r in rows]
        for key in ("aggregation_s", "dataset_s", "peak_mib"):
            k = exponent(n, [r[key] for r in rows])
            print(f"growth exponent of {key}: {k:.2f} (target ≤ 1.2)")
        agg = rows[-1]["aggregation_s"] * (1e6 / n[-1]) ** exponent(
            n, [r["aggregation_s"] for r in rows]
        )
        print(f"extrapolated aggregation of 10^6 transitions: {agg / 60:.1f} min")


if __name__ == "__main__":
    main()
