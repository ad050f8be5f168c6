"""Event finders side by side: distinct validated events per 1000 force calls and per wall
second, and the share of a reference catalogue each finds (docs/design.md §9).

From one relaxed state (default: the showcase cluster, a Pt140 truncated octahedron with 2
adatoms), each finder — the transformer (needs ``--model``), the model-free displacement and
the dimer saddle search — runs the kinetics stage's search job (``search_state``) alone, with
the same number of proposals and the same epicentre stream, for each of ``--seeds`` seeds.
Only events within the thermal window (``--window-kT`` above the lowest barrier of the
reference catalogue) count. The reference catalogue is the union of every finder's events from
a larger budget (``--reference-proposals`` each), under other seeds.
Force calls are counted at the backend (physics.engine.force_calls): proposals, quenches,
NEBs and Hessians; the transformer's wall time includes the network's.

Several ``--model`` files run side by side, each as its own transformer finder named by the
folder that holds it (``tf:<folder>``; e.g. the same data trained for 1500 and 4000 steps).

Usage: python bench/event_search.py [--model results/default/model/transformer.pt ...]
       [--proposals 24] [--reference-proposals 96] [--seeds 3] [--temperature 200]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from hopformer.kinetics.completeness import in_window  # noqa: E402
from hopformer.kinetics.finders import FinderConfig  # noqa: E402
from hopformer.kinetics.search import SearchJob, search_state  # noqa: E402
from hopformer.physics.clusters import add_adatoms, build_cluster  # noqa: E402
from hopformer.physics.eam import write_setfl  # noqa: E402
from hopformer.physics.htst import K_B  # noqa: E402
from hopformer.physics.relax import Relaxer  # noqa: E402
from hopformer.physics.states import same_state  # noqa: E402
from hopformer.physics.zhou2004 import zhou_table  # noqa: E402
from hopformer.transformer.training import load_model  # noqa: E402
from hopformer.validation.pair import ValidationConfig  # noqa: E402


def catalogue(events: list[dict], numbers) -> list[dict]:
    """Distinct valid events (state-identity test on the products)."""
    out: list[dict] = []
    for e in events:
        if e["kind"] != "new" or e["neb_status"] != "ok":
            continue
        x = np.reshape(e["final_positions"], (-1, 3))
        if not any(same_state(x, np.reshape(o["final_positions"], (-1, 3)), numbers) for o in out):
            out.append(e)
    return out


def covered(found: list[dict], reference: list[dict], numbers) -> int:
    refs = [np.reshape(r["final_positions"], (-1, 3)) for r in reference]
    hit = 0
    for r in refs:
        hit += any(same_state(r, np.reshape(f["final_positions"], (-1, 3)), numbers) for f in found)
    return hit


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--model", action="append", default=[], help="transformer model file (repeatable)"
    )
    ap.add_argument("--length", type=int, default=6)
    ap.add_argument("--cutoff", type=int, default=1)
    ap.add_argument("--adatoms", type=int, default=2)
    ap.add_argument("--temperature", type=float, default=200.0)
    ap.add_argument("--window-kT", type=float, default=20.0)
    ap.add_argument("--proposals", type=int, default=24)
    ap.add_argument("--reference-proposals", type=int, default=96)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    # label -> (finder, model): the model-free finders, then one transformer per model file.
    finders = {"displacement": ("displacement", None), "dimer": ("dimer", None)}
    for path in args.model:
        label = "transformer" if len(args.model) == 1 else f"tf:{Path(path).parent.name}"
        if label in finders:
            raise SystemExit(f"--model {path}: two model files in folders named {label[3:]!r}")
        finders[label] = ("transformer", load_model(path))
    with tempfile.TemporaryDirectory() as tmp:
        pot = Path(tmp) / "Pt.eam.alloy"
        write_setfl(zhou_table("Pt"), pot)
        atoms = build_cluster("Pt", "truncated_octahedron", length=args.length, cutoff=args.cutoff)
        atoms = add_adatoms(atoms, args.adatoms, seed=1)
        relaxer = Relaxer(pot)
        res = relaxer.relax(atoms.positions, atoms.numbers)
        numbers = atoms.numbers
        print(
            f"state: Pt{len(atoms)} ({args.adatoms} adatoms), E = {res.energy:.4f} eV, "
            f"{args.temperature:g} K, window {args.window_kT:g} kT"
        )
        validation = ValidationConfig(neb_steps=600)

        def run(label: str, proposals: int, seed: int):
            finder, model = finders[label]
            job = SearchJob(0, 0, 0, numbers, res.positions, res.energy, seed)
            config = FinderConfig(proposals=proposals)
            t0 = time.perf_counter()
            events, (stats,) = search_state(job, [], [finder], relaxer, config, validation, model)
            return catalogue(events, numbers), stats, time.perf_counter() - t0

        reference: list[dict] = []
        for finder in finders:
            cat, stats, wall = run(finder, args.reference_proposals, 1000)
            print(
                f"reference {finder}: {len(cat)} events, {stats['force_calls']} calls, {wall:.0f} s"
            )
            reference = catalogue(reference + cat, numbers)
        kT = K_B * args.temperature
        barriers = [r["barrier"] for r in reference]
        window = [
            r for r, w in zip(reference, in_window(barriers, kT, args.window_kT), strict=True) if w
        ]
        print(
            f"reference catalogue: {len(reference)} events, {len(window)} in the window; "
            f"barriers (eV) {sorted(round(b, 3) for b in barriers)}"
        )
        lowest = min(barriers) if barriers else 0.0
        print(
            f"\n{'finder':<13}{'seed':>5}{'calls':>9}{'wall s':>8}{'events':>7}"
            f"{'/1000 calls':>12}{'/wall s':>9}{'coverage':>9}"
        )
        totals = {f: [] for f in finders}
        for finder in finders:
            for seed in range(args.seeds):
                cat, stats, wall = run(finder, args.proposals, seed)
                cat = [e for e in cat if e["barrier"] <= lowest + args.window_kT * kT]
                per_call = 1000 * len(cat) / max(stats["force_calls"], 1)
                cover = covered(cat, window, numbers) / max(len(window), 1)
                totals[finder].append((per_call, len(cat) / wall, cover))
                print(
                    f"{finder:<13}{seed:>5}{stats['force_calls']:>9}{wall:>8.1f}{len(cat):>7}"
                    f"{per_call:>12.3f}{len(cat) / wall:>9.3f}{cover:>9.2f}"
                )
        print("\nmean ± spread over seeds:")
        base = np.mean([t[0] for t in totals["displacement"]]) or float("nan")
        dimer = np.mean([t[0] for t in totals["dimer"]]) or float("nan")
        for finder, rows in totals.items():
            a = np.array(rows)
            print(
                f"  {finder:<13} {a[:, 0].mean():.3f} ± {a[:, 0].std():.3f} events/1000 calls, "
                f"{a[:, 1].mean():.3f} events/s, coverage {a[:, 2].mean():.2f}; "
                f"× displacement {a[:, 0].mean() / base:.2f}, × dimer {a[:, 0].mean() / dimer:.2f}"
            )
        relaxer.close()


if __name__ == "__main__":
    main()
