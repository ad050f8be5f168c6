"""Which energy an NVE rollout of a trajectory surrogate should hold (docs/design.md §13).

One trained surrogate (the direct predictor or the GNN integrator), its held-out NVE runs,
and each rollout judged against the reference MD from the same frame, as
``evaluate-predictor`` / ``evaluate-integrator`` do, for every hold in one run:

* ``none``: nothing held (the model's own dynamics);
* ``learned``: the predictor's learned energy (its default; no extra call);
* ``reference``: the reference potential itself: an exact energy, so what is left is the
  error of the predicted positions and velocities;
* ``mlip``: a trained MLIP's energy (``--mlip``), the one a user without the reference would
  have: one MLIP call per step.

Printed per run and hold: the time until the chain breaks (ps; 10 means it never did), its
mean temperature over the reference's, the main vibrational peak over the reference's, the
structure's L1 distance, the total energy's drift on the reference potential (meV/atom) and
the wall seconds per simulated ps (10 fs steps), the MSD at the end over the reference's and,
for the predictor, the time until its chain of horizon-long steps breaks (ps).
Usage: python bench/surrogate_hold.py --kind predictor|integrator --model M --frames RUN...
       --reference EAM [--mlip M]
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import torch

from hopformer.surrogates.evaluation import evaluate, evaluate_predictor
from hopformer.surrogates.runs import read_run
from hopformer.surrogates.training import load_surrogate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=["predictor", "integrator"], default="predictor")
    parser.add_argument("--model", required=True, help="the surrogate's model.pt")
    parser.add_argument("--frames", nargs="+", required=True, help="held-out NVE runs")
    parser.add_argument("--reference", required=True, help="the reference EAM file")
    parser.add_argument("--mlip", default=None, help="a trained MLIP's model.pt")
    parser.add_argument("--holds", nargs="+", default=["none", "learned", "reference", "mlip"])
    parser.add_argument("--rollout-ps", type=float, default=10.0)
    parser.add_argument("--rollout-strides", type=int, default=1000, help="the integrator's")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, extra = load_surrogate(args.model, args.kind)
    predictor = args.kind == "predictor"
    holds = {"none": None, "reference": args.reference}
    if predictor and model.config.conserve_energy:  # trained with its energy head
        holds["learned"] = None
    if args.mlip:
        holds["mlip"] = args.mlip
    holds = {k: v for k, v in holds.items() if k in args.holds}
    print(
        f"{'run':22s} {'hold':9s} stable  T/ref  VACF/ref  struct L1  drift  s/ps  MSD/ref"
        "  long: stable ps, T/ref, swing/ref's"
    )
    for path in args.frames:
        run = read_run(path, periodic=not predictor)
        if run["ensemble"] != "nve":
            raise SystemExit(f"{path}: a {run['ensemble']} run; the hold is for NVE chains")
        for name, potential in holds.items():
            if predictor:
                model.config = replace(model.config, conserve_energy=name == "learned")
                s, _ = evaluate_predictor(
                    model,
                    run,
                    extra["stride_fs"],
                    args.rollout_ps,
                    args.reference,
                    hold_potential=potential,
                )
            else:
                s, _ = evaluate(model, run, args.rollout_strides, args.reference, potential)
            print(
                f"{Path(path).stem:22s} {name:9s} {s['stable_horizon_fs'] / 1000:6.2f}"
                f" {s['temperature_model_mean'] / s['temperature_reference_mean']:6.2f}"
                f" {s['vdos_peak_ratio']:9.2f} {s['structure_l1']:10.3f}"
                f" {s['energy_drift_mev_atom_model']:6.1f} {s['wall_s_per_ps']:5.2f}"
                f" {s['msd_ratio'] or float('nan'):8.2f}"
                f" {s.get('long_stable_horizon_fs', float('nan')) / 1000:6.2f}"
                f" {long_swing(s)}",
                flush=True,
            )


def long_swing(s: dict) -> str:
    """The horizon-step chain's mean temperature and its step-to-step swing, each over the
    reference's at the same times (a held chain can keep the one and not the other)."""
    if "long_temperature_model_mean" not in s:
        return ""
    mean = s["long_temperature_model_mean"] / s["long_temperature_reference_mean"]
    swing = s["long_temperature_model_std"] / s["long_temperature_reference_std"]
    return f"{mean:5.2f} {swing:5.1f}"


if __name__ == "__main__":
    main()
