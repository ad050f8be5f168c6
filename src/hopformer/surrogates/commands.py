"""Commands of the trajectory-surrogate stage (rules run_reference_md, train_integrator,
evaluate_integrator, train_predictor, evaluate_predictor)."""

from __future__ import annotations

import time
from dataclasses import fields
from pathlib import Path

import pandas as pd
import torch

from hopformer.config import add_flags
from hopformer.console import add_threads, add_training_outputs, log, show
from hopformer.data import schema
from hopformer.data.shards import write_rows
from hopformer.ml.devices import choose_device
from hopformer.physics.io import write_json_atomic, write_text_atomic
from hopformer.physics.potentials import open_engine, potential_id
from hopformer.report.plots import plot_rollout
from hopformer.surrogates.evaluation import FastChain, evaluate, evaluate_predictor
from hopformer.surrogates.integrator import IntegratorConfig
from hopformer.surrogates.predictor import PredictorConfig
from hopformer.surrogates.runs import (
    TrajectorySpec,
    frame_rows,
    read_run,
    run_reference,
    run_report,
    start_structure,
)
from hopformer.surrogates.training import (
    SurrogateTraining,
    load_surrogate,
    save_surrogate,
    train,
    train_predictor,
)


class RunReferenceMd:
    """reference MD frames for the trajectory surrogates"""

    @staticmethod
    def add_arguments(p):
        p.add_argument("--system", required=True, choices=["cluster", "bulk"])
        p.add_argument("--potential", required=True, help="EAM file")
        p.add_argument("--structure", default=None, help="relaxed cluster (cluster system)")
        p.add_argument("--temperature", type=float, required=True, help="K")
        p.add_argument("--ensemble", required=True, choices=["nve", "langevin"])
        p.add_argument("--seed", type=int, required=True, help="the run's own seed")
        p.add_argument("--name", default=None, help="run name (default: system, T and seed)")
        p.add_argument("--out", required=True, help="frames (Parquet)")
        add_flags(p, "run-reference-md")

    @staticmethod
    def run(args):
        melt = args.melt_temperature if args.temperature >= args.melting_point else None
        spec = TrajectorySpec(
            args.temperature,
            args.ensemble,
            args.equilibrate_ps,
            args.length_ps,
            args.stride_fs,
            args.timestep_fs,
            args.damping_fs,
            melt,
            args.melt_ps if melt else 0.0,
            args.seed,
        )
        atoms, cell = start_structure(
            args.system,
            args.structure,
            args.vacuum,
            args.element,
            args.cells,
            args.lattice_constant,
        )
        engine = open_engine(atoms, args.potential)
        frames = run_reference(engine, spec)
        engine.close()
        rows = frame_rows(
            frames, spec, args.system, atoms.numbers, cell, potential_id(args.potential), args.name
        )
        write_rows(rows, args.out, schema.TRAJECTORY_FRAMES)
        log(
            f"{rows[0]['run']}: {len(rows)} frames of {len(atoms)} atoms; "
            f"{run_report(frames, len(atoms))}"
        )


def _train_arguments(p, kind):
    p.add_argument("--frames", nargs="+", required=True, help="reference runs (Parquet)")
    add_training_outputs(p)
    add_flags(p, f"train-{kind}")


def _config(config_type, args):
    """A model config from the flags that name its fields (the others keep their defaults)."""
    names = {f.name for f in fields(config_type)}
    return config_type(**{k: v for k, v in vars(args).items() if k in names})


def _train(args, kind):
    torch.set_num_threads(args.threads)
    runs = [read_run(p, periodic=kind == "integrator") for p in args.frames]
    settings = SurrogateTraining(
        args.steps,
        args.batch_size,
        args.learning_rate,
        args.checkpoint_every,
        args.seed,
        choose_device(args.device),
        args.unroll,
        args.reverse,
        getattr(args, "balance_steps", False),  # the predictor's alone
        getattr(args, "stride_share", 0.0),
        getattr(args, "kinetic_weight", 0.0),  # the integrator's alone
    )
    start = time.perf_counter()
    if kind == "integrator":
        config = _config(IntegratorConfig, args)
        model, history = train(runs, config, settings, args.checkpoint_dir, args.loss_log, log)
        extra = {}
    else:
        config = _config(PredictorConfig, args)
        model, history = train_predictor(
            runs, config, args.stride_fs, settings, args.checkpoint_dir, args.loss_log, log
        )
        extra = {"stride_fs": args.stride_fs}
    summary = {
        "steps": args.steps,
        "runs": len(runs),
        "final_loss": history[-1]["loss"],
        "seconds": time.perf_counter() - start,
        "device": settings.device,
    }
    save_surrogate(args.out, kind, model, summary, **extra)
    write_json_atomic(args.summary, summary)
    show(summary)


class TrainIntegrator:
    """train the GNN displacement integrator on periodic reference runs"""

    add_arguments = staticmethod(lambda p: _train_arguments(p, "integrator"))
    run = staticmethod(lambda args: _train(args, "integrator"))


class TrainPredictor:
    """train the direct trajectory predictor on free-cluster reference runs"""

    add_arguments = staticmethod(lambda p: _train_arguments(p, "predictor"))
    run = staticmethod(lambda args: _train(args, "predictor"))


def _evaluate_arguments(p, kind):
    p.add_argument("--model", required=True)
    p.add_argument("--frames", nargs="+", required=True, help="held-out reference runs")
    p.add_argument(
        "--potential", default=None, help="reference EAM: scores energies, times reference MD"
    )
    p.add_argument(
        "--hold-potential",
        default=None,
        help="potential file (EAM or MLIP model) whose energy NVE chains hold with the kinetic "
        "energy, one call per step (default: the predictor's learned energy; the integrator's "
        "none)",
    )
    add_threads(p)
    p.add_argument("--out", required=True, help="one summary per run (JSON)")
    p.add_argument("--csv", required=True, help="the same as CSV")
    p.add_argument("--plot", required=True, help="rollout of the first run (PNG)")
    add_flags(p, f"evaluate-{kind}")


def _evaluate(args, kind):
    torch.set_num_threads(args.threads)
    model, extra = load_surrogate(args.model, kind)
    rows, first = [], None
    for path in args.frames:
        run = read_run(path, periodic=kind == "integrator")
        if kind == "integrator":
            summary, curves = evaluate(
                model, run, args.rollout_strides, args.potential, args.hold_potential
            )
        else:
            summary, curves = evaluate_predictor(
                model,
                run,
                extra["stride_fs"],
                args.rollout_ps,
                args.potential,
                args.damping_fs,
                args.seed,
                hold_potential=args.hold_potential,
                noise=args.langevin_noise,
                long_step_fs=args.long_step_fs,
                fast=FastChain(args.long_hold_every, args.long_float32, args.long_compile),
            )
        rows.append({"run": Path(path).stem, "temperature": run["temperature"], **summary})
        first = first or (Path(path).stem, curves)
        show(rows[-1])
    write_json_atomic(args.out, rows)
    write_text_atomic(args.csv, pd.DataFrame(rows).to_csv(index=False, float_format="%.6g"))
    plot_rollout(*first, args.plot)


class EvaluateIntegrator:
    """the GNN integrator's rollouts against held-out reference MD"""

    add_arguments = staticmethod(lambda p: _evaluate_arguments(p, "integrator"))
    run = staticmethod(lambda args: _evaluate(args, "integrator"))


class EvaluatePredictor:
    """the direct predictor against held-out reference MD"""

    add_arguments = staticmethod(lambda p: _evaluate_arguments(p, "predictor"))
    run = staticmethod(lambda args: _evaluate(args, "predictor"))
