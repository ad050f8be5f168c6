"""Reach of the KMC against MD, from a finished kinetics campaign (docs/design.md §9).

Takes the last round's tables of a campaign (default: the showcase,
results/pt140-adatoms/kinetics) and its search jobs' wall time. The validated catalogue's hTST
rates, k = ν e^{−Eₐ/kT}, are re-rated at each ``--temperatures`` (barriers and prefactors
do not depend on T in hTST) and the completeness rule is re-applied with that T's window; the
KMC then runs from state 0 ``--walks`` times for as long as it stays in searched states. Printed
per T: the mean simulated time the KMC reaches that way, the KMC's simulated ps per wall
second of the searches already spent, MD's ps per wall second (the campaign's splicing
segments; MD's speed does not depend on T), their ratio, and how many escapes from the KMC's
longest-lived state MD would expect to see in the same wall time.

Usage: python bench/kmc_reach.py [--campaign results/pt140-adatoms]
       [--temperatures 300,200,150,100]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from hopformer.data.kinetics import SEARCH_STATS
from hopformer.data.shards import read_tables
from hopformer.kinetics.completeness import state_confidence
from hopformer.kinetics.kmc import Catalogue, Process, run_kmc
from hopformer.kinetics.tables import read_round
from hopformer.physics.htst import K_B, htst_rate


def catalogue_at(tables: dict, temperature: float, window_kT: float, confidence: float):
    kT = K_B * temperature
    cat = Catalogue()
    for s in tables["states"]:
        valid = [p for p in tables["processes"] if p["state"] == s["state"] and p["valid"]]
        conf, _, _ = state_confidence(
            [p["barrier"] for p in valid], [p["hits"] for p in valid], kT, window_kT
        )
        if conf >= confidence:
            cat.done.add(s["state"])
        cat.processes[s["state"]] = [
            Process(
                p["process"],
                p["product"],
                htst_rate(p["prefactor_thz"], p["barrier"], temperature),
                p["barrier"],
                p["reverse_barrier"],
            )
            for p in valid
        ]
    return cat


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--campaign", default="results/pt140-adatoms")
    ap.add_argument("--temperatures", default="300,200,150,100")
    ap.add_argument("--window-kT", type=float, default=20.0)
    ap.add_argument("--confidence", type=float, default=0.95)
    ap.add_argument("--flicker-kT", type=float, default=3.0)
    ap.add_argument("--walks", type=int, default=200)
    args = ap.parse_args()
    root = Path(args.campaign) / "kinetics"
    last = sorted(root.glob("round-*/summary.json"))[-1].parent
    tables = read_round(last)
    stats = read_tables(sorted(root.glob("round-*/search-*.stats.parquet")), SEARCH_STATS)
    search_wall = float(np.sum(stats.column("wall_s").to_numpy()))
    md_rate = json.loads((root / "summary.json").read_text())["md_ps_per_wall_s"]
    print(
        f"{last}: {len(tables['states'])} states, "
        f"{sum(p['valid'] for p in tables['processes'])} valid processes; "
        f"searches {search_wall:.0f} s; MD {md_rate:.1f} ps per wall s"
    )
    print(
        f"\n{'T K':>6}{'done':>6}{'KMC steps':>10}{'KMC ps':>12}{'KMC ps/s':>12}"
        f"{'MD ps/s':>9}{'ratio':>10}{'MD exits of τmax state':>24}"
    )
    for t in (float(x) for x in args.temperatures.split(",")):
        cat = catalogue_at(tables, t, args.window_kT, args.confidence)
        flicker = args.flicker_kT * K_B * t
        reach, steps = [], []
        for w in range(args.walks):
            walk = run_kmc(cat, 0, np.random.default_rng(w), 10_000, flicker)
            reach.append(sum(s.dt for s in walk))
            steps.append(len(walk))
        kmc_ps = float(np.mean(reach))
        taus = [1 / cat.total_rate(s) for s in cat.done if cat.total_rate(s) > 0]
        md_ps = md_rate * search_wall
        exits = md_ps / max(taus) if taus else 0.0
        ratio = kmc_ps / search_wall / md_rate
        print(
            f"{t:>6.0f}{len(cat.done):>6}{np.mean(steps):>10.1f}{kmc_ps:>12.3g}"
            f"{kmc_ps / search_wall:>12.3g}{md_rate:>9.1f}{ratio:>10.3g}{exits:>24.3g}"
        )


if __name__ == "__main__":
    main()
