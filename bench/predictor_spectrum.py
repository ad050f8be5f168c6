"""The direct predictor's vibrational spectrum over many fresh NVE runs, beside the reference
MD's own spread between runs (docs/design.md §13).

One held-out run gives one 10 ps spectrum of a 55-atom cluster, with several near-equal peaks;
which of them is the highest moves from one run to the next in the reference MD itself. So a
model's peak over the reference's from one run cannot say whether the model is within 5 %.
This bench starts ``--runs`` fresh reference NVE runs per temperature on the reference EAM
(seeds no training saw: Langevin equilibration from the relaxed cluster, as the campaign's
runs), chains the predictor from each first frame for the same time with steps of its stride
or ``--step-fs`` (its NVE energy held on ``--hold``: a potential file, default the reference
EAM, ``learned``, the model's own energy, or ``none``), and prints:

* per run: the chain's vibrational temperature over the reference's, its step-to-step
  standard deviation over the reference's at the same times (the swing), the spectrum's main
  peak (THz) in both and their ratio, and the mean frequency's ratio, as ``evaluate-predictor``
  reports them;
* the reference's own spread: each run's main peak over the peak of the other runs' averaged
  spectrum (what a perfect model would score on one run), and the first half of the runs'
  averaged spectrum against the second half's;
* the averaged spectra, model over reference: main peak, mean frequency, L1;
* the chain's wall seconds per simulated ps and, with ``--mlip``, those of NVE MD on that
  MLIP (2 fs steps) from the same starts: the speed-up the surrogate is for.

Usage: python bench/predictor_spectrum.py --model M --potential EAM --structure CLUSTER
       [--runs 8] [--temperatures 300 700] [--hold EAM_OR_MLIP] [--rollout-ps 10]
       [--step-fs 30] [--mlip MLIP] [--float32] [--hold-every 2] [--compile]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import torch

from hopformer.mlip.calculator import mlip_engine
from hopformer.physics.md import md_speed
from hopformer.physics.potentials import open_engine
from hopformer.surrogates.evaluation import held_energy
from hopformer.surrogates.metrics import rdf_l1, spectrum_peak
from hopformer.surrogates.predictor import chain
from hopformer.surrogates.rollouts import judge_rollout
from hopformer.surrogates.runs import TrajectorySpec, run_reference, start_structure
from hopformer.surrogates.training import load_surrogate


def one_run(args, model, stride_fs: float, temperature: float, seed: int) -> dict:
    """A fresh reference run (a frame every ``stride_fs``) and the predictor's chain of
    ``--step-fs`` steps from its first frame, judged at the chain's steps."""
    spec = TrajectorySpec(
        temperature, "nve", args.equilibrate_ps, args.rollout_ps, stride_fs, seed=seed
    )
    atoms, _ = start_structure("cluster", args.structure, args.vacuum)
    engine = open_engine(atoms, args.potential)
    try:
        frames = run_reference(engine, spec)
    finally:
        engine.close()
    every = round(args.step_fs / stride_fs)
    x, v = frames["positions"][::every], frames["velocities"][::every]
    numbers = atoms.numbers
    hold = None if args.hold in ("learned", "none") else args.hold or args.potential
    with held_energy(hold, numbers, x[0]) as energy:  # None: the model's learned energy
        start = time.perf_counter()
        xs, vs = chain(
            model,
            x[0],
            v[0],
            numbers,
            args.step_fs,
            len(x) - 1,
            None,
            energy,
            args.hold_every,
            args.compile,
        )
        wall = time.perf_counter() - start
    summary, curves = judge_rollout(xs, vs, x, v, numbers, None, args.step_fs, temperature)
    summary["wall_s_per_ps"] = wall / summary["simulated_ps"]
    if args.mlip:  # the MD the predictor would replace, from the same start
        summary["mlip_wall_s_per_ps"] = md_speed(args.mlip, numbers, x[0], v[0], None, 2.0, 0.1)
        # the same MD with the MLIP in float32: the MLIP's fastest on a CPU (docs/results.md)
        summary["mlip32_wall_s_per_ps"] = md_speed(
            args.mlip,
            numbers,
            x[0],
            v[0],
            None,
            2.0,
            0.1,
            make_engine=mlip_engine(args.mlip, torch.float32),
        )
    return {"summary": summary, **curves}


def normalised(p: np.ndarray) -> np.ndarray:
    return p / p.sum()


def mean_frequency(f: np.ndarray, p: np.ndarray) -> float:
    return float((f * p).sum() / p.sum())


def report(temperature: float, runs: list[dict]) -> None:
    f = runs[0]["frequency_thz"]
    model = [normalised(r["vdos_model"]) for r in runs]
    ref = [normalised(r["vdos_reference"]) for r in runs]
    print(f"\n{temperature:g} K, {len(runs)} runs")
    print("  run  T/ref  swing/ref  peak model  peak ref  ratio  mean ratio")
    for k, r in enumerate(runs):
        s = r["summary"]
        # a chain can keep its mean temperature while it swings from step to step
        swing = np.std(r["temperature_model"]) / np.std(r["temperature_reference"])
        print(
            f"  {k:3d} {s['temperature_model_mean'] / s['temperature_reference_mean']:6.2f}"
            f" {swing:10.2f}"
            f" {s['vdos_peak_thz_model']:11.2f} {s['vdos_peak_thz_reference']:9.2f}"
            f" {s['vdos_peak_ratio']:6.2f} {s['vdos_mean_ratio']:11.3f}"
        )
    summaries = [r["summary"] for r in runs]
    temps = np.array(
        [s["temperature_model_mean"] / s["temperature_reference_mean"] for s in summaries]
    )
    means = np.array([s["vdos_mean_ratio"] for s in summaries])
    print(
        f"  one run, model / its reference: T {temps.mean():.3f} ± {temps.std():.3f}"
        f" (range {temps.min():.2f}–{temps.max():.2f}), mean frequency"
        f" {means.mean():.3f} ± {means.std():.3f} (range {means.min():.3f}–{means.max():.3f})"
    )
    single = np.array([s["vdos_peak_ratio"] for s in summaries])
    # a perfect model on one run: that run's reference peak over the others' averaged one
    own = np.array(
        [
            spectrum_peak(f, ref[k]) / spectrum_peak(f, np.mean(ref[:k] + ref[k + 1 :], 0))
            for k in range(len(runs))
        ]
    )
    half = len(runs) // 2
    first, second = np.mean(ref[:half], 0), np.mean(ref[half:], 0)
    pooled_model, pooled_ref = np.mean(model, 0), np.mean(ref, 0)
    # the same comparison at the same size: each half of the model's runs against the other
    # half of the reference's, beside the reference's halves against each other
    crossed = np.mean(
        [
            rdf_l1(np.mean(model[:half], 0), second, f),
            rdf_l1(np.mean(model[half:], 0), first, f),
        ]
    )
    print(
        f"  one run, model / its reference: peak {single.mean():.2f} ± {single.std():.2f}"
        f" (range {single.min():.2f}–{single.max():.2f})"
    )
    print(
        f"  one run, reference / the other runs' average: peak {own.mean():.2f} ± {own.std():.2f}"
        f" (range {own.min():.2f}–{own.max():.2f})"
    )
    print(
        f"  averaged, reference's first half / second half: peak"
        f" {spectrum_peak(f, first) / spectrum_peak(f, second):.3f},"
        f" mean {mean_frequency(f, first) / mean_frequency(f, second):.3f},"
        f" L1 {rdf_l1(first, second, f):.3f}; model's half / reference's other half:"
        f" L1 {crossed:.3f}"
    )
    print(
        f"  averaged, model / reference: peak {spectrum_peak(f, pooled_model):.2f} /"
        f" {spectrum_peak(f, pooled_ref):.2f} THz ="
        f" {spectrum_peak(f, pooled_model) / spectrum_peak(f, pooled_ref):.3f},"
        f" mean {mean_frequency(f, pooled_model) / mean_frequency(f, pooled_ref):.3f},"
        f" L1 {rdf_l1(pooled_model, pooled_ref, f):.3f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="the predictor's model.pt")
    parser.add_argument("--potential", required=True, help="the reference EAM file")
    parser.add_argument("--structure", required=True, help="the campaign's relaxed cluster")
    parser.add_argument(
        "--hold", default=None, help="potential the chains hold, 'learned' or 'none' (default: EAM)"
    )
    parser.add_argument("--mlip", default=None, help="an MLIP model.pt: time MD on it too")
    parser.add_argument("--runs", type=int, default=8, help="fresh runs per temperature")
    parser.add_argument("--temperatures", type=float, nargs="+", default=[300.0, 700.0])
    parser.add_argument("--rollout-ps", type=float, default=10.0)
    parser.add_argument("--step-fs", type=float, default=None, help="default: the stride")
    parser.add_argument("--equilibrate-ps", type=float, default=5.0)
    parser.add_argument("--vacuum", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=900, help="the first fresh run's seed")
    parser.add_argument("--float32", action="store_true", help="chain in float32 (default 64)")
    parser.add_argument("--hold-every", type=int, default=1, help="steps between holds")
    parser.add_argument("--compile", action="store_true", help="torch.compile the chain")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if args.runs < 2:
        parser.error(f"--runs {args.runs}: the reference's spread needs at least 2")
    torch.set_num_threads(args.threads)
    model, extra = load_surrogate(args.model, "predictor")
    if args.float32:
        model = model.float()
    if args.hold == "learned" and not model.config.conserve_energy:
        parser.error(f"--hold learned: {args.model} was trained without conserve_energy")
    if args.hold == "none":  # the model's own dynamics, nothing held
        model.config = replace(model.config, conserve_energy=False)
    args.step_fs = args.step_fs or extra["stride_fs"]
    every = args.step_fs / extra["stride_fs"]
    if abs(every - round(every)) > 1e-9 or args.step_fs > model.config.horizon_fs:
        parser.error(
            f"--step-fs {args.step_fs:g}: expected a multiple of the model's stride"
            f" ({extra['stride_fs']:g} fs) up to its horizon ({model.config.horizon_fs:g} fs)"
        )
    print(
        f"predictor {args.model}: {args.step_fs:g} fs steps, {args.rollout_ps:g} ps"
        f" chains held on {args.hold or args.potential} every {args.hold_every} step(s),"
        f" {'float32' if args.float32 else 'float64'}{', compiled' if args.compile else ''}"
    )
    if args.compile:  # compiled once for the session: its cost is not a chain's
        atoms, _ = start_structure("cluster", args.structure, args.vacuum)
        start = time.perf_counter()
        chain(
            model,
            atoms.positions,
            np.zeros((len(atoms), 3)),
            atoms.numbers,
            args.step_fs,
            2,
            compile=True,
        )
        print(f"  compiling the chain took {time.perf_counter() - start:.0f} s (once)")
    for temperature in args.temperatures:
        runs = [
            one_run(args, model, extra["stride_fs"], temperature, args.seed + k)
            for k in range(args.runs)
        ]
        report(temperature, runs)
        wall = np.array([r["summary"]["wall_s_per_ps"] for r in runs])
        line = f"  chain: {np.median(wall):.3f} s per simulated ps (median of {len(runs)} runs)"
        if args.mlip:
            mlip = np.array([r["summary"]["mlip_wall_s_per_ps"] for r in runs])
            single = np.array([r["summary"]["mlip32_wall_s_per_ps"] for r in runs])
            line += (
                f"; MD on the MLIP (2 fs): {np.median(mlip):.2f} s per ps,"
                f" {np.median(mlip / wall):.1f}x the chain's time; with the MLIP in float32"
                f" {np.median(single):.2f} s per ps, {np.median(single / wall):.1f}x"
            )
        print(line, flush=True)


if __name__ == "__main__":
    main()
