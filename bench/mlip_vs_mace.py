"""The attention MLIP against MACE: the same configurations, splits, CPU and compute.

Both are trained on a campaign's MLIP data (``make_mlip_data``: splicing minima, hot MD, NEB
images, bulk), each in its own process with the same threads, side by side. A budget is the
training process's CPU time, not the wall clock, so that a shared machine slows both alike
without changing what each is given:

* **short** (equal time): ``--short-min`` CPU minutes each. MLIP: a run whose step count is
  set by its measured CPU time per step (its cosine schedule ends on the budget). MACE: its
  best weights at that time.
* **long** ("to convergence"): ``--long-min`` CPU minutes each; the MLIP a fresh run planned
  that long, MACE the same run continued. ``converged`` says whether the validation curve
  still improved by more than 5 % over the last quarter of the run.

Then, for every model: test-split energy and force errors per source (one formula for both,
:func:`hopformer.mlip.training.error_metrics`); the force call (energy + forces through the
ASE calculator, new positions each call) on Pt55 and periodic Al108 at 1 and 2 threads; and
for the long models, the NEB barrier of held-out validated transitions against EAM
(:func:`hopformer.mlip.evaluation.barriers`, the same selection as ``evaluate-mlip``).
MACE is an optional extra: ``pip install -e '.[bench]'``.

Writes ``<campaign>/benchmarks/mlip_vs_mace.json`` (atomically); the workflow's
``mlip/peers.csv`` and report show it beside the MLIP's own evaluation once it exists.
Usage: python bench/mlip_vs_mace.py --campaign results/default [--short-min 15 --long-min 45]
       [--model correlation=3 --model width=48]  (the MLIP's architecture, else the defaults)
       [--train energy_weight=0.01]  (the MLIP's training keys, else the defaults)
       [--only-ours | --only-mace]  (train one model into --work; --evaluate-only then
       reports on the pair found there)
"""

from __future__ import annotations

import argparse
import glob
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
from ase.io import read

from hopformer.mlip.calculator import HopformerPotential, load_network
from hopformer.mlip.data import read_configs
from hopformer.mlip.evaluation import (
    barrier_summary,
    barriers,
    errors_by_source,
    untrained_transitions,
)
from hopformer.mlip.model import MlipConfig
from hopformer.mlip.training import (
    Graphs,
    MlipTrainConfig,
    error_metrics,
    metrics,
    new_network,
)
from hopformer.mlip.training import train as train_mlip
from hopformer.physics.clusters import bulk_cell
from hopformer.physics.io import write_json_atomic
from hopformer.physics.structure import center_in_vacuum

SEED = 1  # both models' initialisation and batch order, unless --seed says otherwise
SYSTEMS = ("Pt55", "Al108")


def split(configs, name):
    return [c for c in configs if c["split"] == name]


def with_changes(kind, flag: str, pairs: list[str], managed=(), **fixed):
    """``kind``'s defaults (the workflow's) with ``--flag KEY=VALUE`` changes; ``fixed`` and
    ``managed`` keys (those the bench sets itself) cannot be changed."""
    fields = {
        f: type(v) for f, v in asdict(kind(**fixed)).items() if f not in fixed and f not in managed
    }
    changes = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key not in fields or not value:
            sys.exit(f"{flag} {pair!r}: expected KEY=VALUE with KEY one of {', '.join(fields)}")
        if fields[key] is bool and value.lower() not in ("true", "false"):
            sys.exit(f"{flag} {pair!r}: expected true or false")
        changes[key] = value.lower() == "true" if fields[key] is bool else fields[key](value)
    return kind(**fixed, **changes)


def worker_ours(
    configs, work: Path, short_s: float, long_s: float, arch: MlipConfig, base: MlipTrainConfig
) -> None:
    tr, va = split(configs, "train"), split(configs, "val")
    times = {}
    with tempfile.TemporaryDirectory() as tmp:  # fresh: a kept checkpoint would skip steps
        for steps in (10, 50, 150):  # the step rate, without the set-up cost (10: warm-up)
            t0 = time.process_time()
            cal = replace(base, steps=steps, eval_every=10**6, checkpoint_every=10**6)
            d = Path(tmp) / str(steps)
            train_mlip(tr, [], arch, cal, d / "m.pt", d / "l.csv", d / "ck", log=lambda m: None)
            times[steps] = time.process_time() - t0
    per_step = (times[150] - times[50]) / 100
    setup = max(times[50] - 50 * per_step, 0.0)
    print(f"calibration: {per_step * 1e3:.1f} ms per step, {setup:.1f} s set-up", flush=True)
    evals = 10
    t0 = time.process_time()
    metrics(new_network(arch, base, tr), Graphs(va, arch.cutoff, torch.float32, "cpu"))
    eval_s = time.process_time() - t0  # one validation pass
    for name, budget in (("short", short_s), ("long", long_s)):
        steps = max(int((budget - setup - evals * eval_s) / per_step), 20)
        cfg = replace(base, steps=steps, eval_every=max(steps // evals, 1), checkpoint_every=steps)
        t0 = time.process_time()
        summary = train_mlip(
            tr,
            va,
            arch,
            cfg,
            work / f"ours-{name}.pt",
            work / f"ours-{name}.csv",
            Path(tempfile.mkdtemp()) / "ck",  # never resumed: the time is the measurement
            log=print,
        )
        summary["cpu_seconds"] = time.process_time() - t0
        (work / f"ours-{name}.json").write_text(json.dumps(summary))


def worker_mace(configs, work: Path, short_s: float, long_s: float, seed: int) -> None:
    import mace_peer

    tr, va = split(configs, "train"), split(configs, "val")
    model, stats = mace_peer.build(tr, mace_peer.MaceConfig(), seed)
    run = mace_peer.train(model, tr, va, mace_peer.MaceConfig(), long_s, seed, snapshot_s=short_s)
    torch.save(model.state_dict(), work / "mace-long.state")
    snap = run.pop("snapshot")
    torch.save(snap["state"], work / "mace-short.state")
    info = {**run, "stats": stats, "short": {"seconds": snap["seconds"], "epoch": snap["epoch"]}}
    (work / "mace.json").write_text(json.dumps(info))


def mace_models(configs, work: Path) -> dict:
    import mace_peer

    tr = split(configs, "train")
    out = {}
    for name in ("short", "long"):
        model, _ = mace_peer.build(tr, mace_peer.MaceConfig(), SEED)
        model.load_state_dict(torch.load(work / f"mace-{name}.state", weights_only=True))
        out[name] = mace_peer.PEERS.add(model, work / f"mace-{name}")
    return out


def errors(predict_all, configs) -> dict:
    """MACE's test errors overall and per source (as :func:`errors_by_source` gives the
    MLIP's, through the same formula); ``predict_all(configs)`` → [(E, F)]."""
    out = {}
    for source in ["all", *sorted({c["source"] for c in configs})]:
        subset = [c for c in configs if source in ("all", c["source"])]
        pred = predict_all(subset)
        out[source] = error_metrics(
            [(e, f, c["energy"], c["forces"]) for (e, f), c in zip(pred, subset, strict=True)]
        )
    return out


def mace_predict(spec, elements):
    import mace_peer

    model = mace_peer.PEERS.models[spec]
    table = mace_peer.AtomicNumberTable(elements)
    r_max = mace_peer.MaceConfig().r_max
    return lambda configs: mace_peer.predictions(model, mace_peer.graphs(configs, table, r_max))


def call_ms(calc, atoms, calls: int = 30) -> float:
    """Median ms of one energy + forces call, moved atoms each time (no cached result)."""
    atoms = atoms.copy()
    atoms.calc = calc
    rng = np.random.default_rng(0)
    x0 = atoms.positions.copy()
    times = []
    for k in range(calls + 3):
        atoms.positions = x0 + rng.normal(0, 0.01, x0.shape)
        t0 = time.perf_counter()
        atoms.get_forces()
        if k >= 3:  # warm-up calls
            times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1e3)


def convergence(values: list[float]) -> dict:
    """Whether a validation curve still improved > 5 % over its last quarter."""
    v = [x for x in values if x is not None and np.isfinite(x)]
    if len(v) < 4:
        return {"converged": False, "last_quarter_gain": None}
    q = v[-(len(v) // 4 + 1)]
    gain = (q - min(v[-(len(v) // 4 + 1) :])) / q
    return {"converged": bool(gain <= 0.05), "last_quarter_gain": float(gain)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--campaign", default="results/default")
    ap.add_argument("--short-min", type=float, default=15.0, help="CPU minutes per model")
    ap.add_argument("--long-min", type=float, default=45.0, help="CPU minutes per model")
    ap.add_argument("--threads", type=int, default=1, help="per training process")
    ap.add_argument("--barriers", type=int, default=10)
    ap.add_argument("--seed", type=int, default=SEED, help="both models' (spreads over seeds)")
    ap.add_argument("--model", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument(
        "--train", action="append", default=[], metavar="KEY=VALUE", help="MLIP training key"
    )
    ap.add_argument(
        "--work", help="folder of the trained models (default: <campaign>/benchmarks/mlip_vs_mace)"
    )
    ap.add_argument("--only-ours", action="store_true", help="train the MLIP alone (no report)")
    ap.add_argument(
        "--only-mace",
        action="store_true",
        help="train MACE alone (no report): pair it with an --only-ours run in the same --work",
    )
    ap.add_argument("--worker", choices=["ours", "mace"], help=argparse.SUPPRESS)
    ap.add_argument("--evaluate-only", action="store_true", help="reuse the trained models")
    args = ap.parse_args()
    campaign = Path(args.campaign)
    data = campaign / "mlip/data.parquet"
    if not data.is_file():
        sys.exit(
            f"{data}: no MLIP data; run the campaign with mlip.enabled: true first "
            f"(snakemake ... --configfile config/campaigns/surrogates.yaml -- {data})"
        )
    work = Path(args.work) if args.work else campaign / "benchmarks/mlip_vs_mace"
    work.mkdir(parents=True, exist_ok=True)
    configs = read_configs(data)
    arch = with_changes(MlipConfig, "--model", args.model)
    budgeted = ("steps", "checkpoint_every", "eval_every")  # set from the CPU budget
    base = with_changes(MlipTrainConfig, "--train", args.train, budgeted, seed=args.seed)
    short_s, long_s = args.short_min * 60, args.long_min * 60
    torch.set_num_threads(args.threads)
    if args.worker == "ours" or args.only_ours:
        return worker_ours(configs, work, short_s, long_s, arch, base)
    if args.worker == "mace" or args.only_mace:
        return worker_mace(configs, work, short_s, long_s, args.seed)
    import mace_peer  # noqa: F401 — fail now, with the install hint, not after the training

    if not args.evaluate_only:
        procs = [
            subprocess.Popen(
                [sys.executable, __file__, *sys.argv[1:], "--worker", w],
                stdout=open(work / f"{w}.log", "w"),
                stderr=subprocess.STDOUT,
            )
            for w in ("ours", "mace")
        ]
        if any(p.wait() for p in procs):
            sys.exit(f"a training failed: see {work}/ours.log and {work}/mace.log")
    report(args, campaign, work, configs, arch, base)


def report(
    args, campaign: Path, work: Path, configs, arch: MlipConfig, base: MlipTrainConfig
) -> None:
    test = split(configs, "test")
    mace_specs = mace_models(configs, work)
    mace_info = json.loads((work / "mace.json").read_text())
    models = {f"mlip-{n}": str(work / f"ours-{n}.pt") for n in ("short", "long")}
    models.update({f"mace-{n}": s for n, s in mace_specs.items()})
    cluster = center_in_vacuum(read(campaign / "reference/cluster.extxyz"), 10.0)
    systems = dict(zip(SYSTEMS, (cluster, bulk_cell("Al", 3, 4.05)), strict=True))
    import mace_peer

    rows = {}
    for name, spec in models.items():
        is_mace = name.startswith("mace")
        if is_mace:
            row = {"test": errors(mace_predict(spec, mace_info["stats"]["elements"]), test)}
        else:
            row = {"test": errors_by_source(load_network(spec, torch.float32), test)}
        for threads in (1, 2):
            torch.set_num_threads(threads)
            for system, atoms in systems.items():
                calc = (
                    mace_peer.PEERS.calculator(spec)
                    if is_mace
                    else HopformerPotential(spec, dtype=torch.float32)
                )
                row[f"call_ms_{system}_{threads}t"] = call_ms(calc, atoms)
        torch.set_num_threads(args.threads)
        if is_mace:
            # the epoch the snapshot was taken after (its row has CPU and wall seconds)
            epoch = mace_info["short"]["epoch"] if name.endswith("short") else -1
            span = mace_info["history"][epoch - 1] if epoch > 0 else mace_info["history"][-1]
            row["train_seconds"] = span["seconds"]
            row["wall_seconds"] = span["wall_seconds"]
            row["epochs"] = span["epoch"]
        else:
            s = json.loads((work / f"ours-{name[5:]}.json").read_text())
            row["train_seconds"] = s["cpu_seconds"]
            row["wall_seconds"] = s["seconds_this_run"]
            row["steps"] = s["steps"]
        rows[name] = row
        print(name, json.dumps(row["test"]["all"]), flush=True)
    import pandas as pd

    ours_curve = pd.read_csv(work / "ours-long.csv")["val_force_mae_mev_a"].dropna().tolist()
    rows["mlip-long"]["convergence"] = convergence(ours_curve)
    rows["mace-long"]["convergence"] = convergence([h["val_loss"] for h in mace_info["history"]])
    potential = str(campaign / "reference/potential.eam.alloy")
    validation = sorted(glob.glob(str(campaign / "validation/shards/*.parquet")))
    picked = untrained_transitions(configs, validation)[: args.barriers]
    for name in ("mlip-long", "mace-long"):
        found = barriers(models[name], potential, picked, log=print)
        rows[name]["barriers"] = {**barrier_summary(found), "rows": found}
    out = {
        "campaign": str(campaign),
        "threads_per_training": args.threads,
        "budgets_s": {"short": args.short_min * 60, "long": args.long_min * 60},
        "mlip": {"model": asdict(arch), "training": asdict(base)},
        "mace": {"config": mace_info["config"], "parameters": mace_info["stats"]["parameters"]},
        "splits": {s: len(split(configs, s)) for s in ("train", "val", "test")},
        "models": rows,
    }
    path = campaign / "benchmarks/mlip_vs_mace.json"
    write_json_atomic(path, out)
    show(out)
    print(f"wrote {path}")


def show(out: dict) -> None:
    print(
        f"{'model':<11} {'train s':>8} {'E MAE':>7} {'F MAE':>7} {'F RMSE':>7} "
        f"{'Pt55 1t':>8} {'Pt55 2t':>8} {'Al108 1t':>8} {'Al108 2t':>8}  barriers ≤ 20 meV"
    )
    for name, r in out["models"].items():
        a = r["test"]["all"]
        b = r.get("barriers")
        print(
            f"{name:<11} {r['train_seconds']:>8.0f} {a['energy_mae_mev_atom']:>7.2f} "
            f"{a['force_mae_mev_a']:>7.1f} {a['force_rmse_mev_a']:>7.1f} "
            + " ".join(f"{r[f'call_ms_{s}_{t}t']:>8.1f}" for s in SYSTEMS for t in (1, 2))
            + (f"  {b['within_20_mev']}/{b['compared']} of {b['transitions']}" if b else "")
        )
    print("errors: meV/atom and meV/Å on the test split; calls: ms per energy + forces")


if __name__ == "__main__":
    main()
