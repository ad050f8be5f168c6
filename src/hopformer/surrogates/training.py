"""Training the trajectory surrogates on reference frames, and judging their rollouts against
the reference MD started from the same state.

* GNN displacement integrator (periodic bulk): a sample is a pair of frames one
  stride apart: inputs (x_t, v_t), targets Δx = minimum-image(x_{t+s} − x_t), Δv = v_{t+s} − v_t.
* Direct trajectory predictor (free cluster): a sample is a pair of frames k strides
  apart for any k with k·stride ≤ horizon: inputs (x_t, v_t, Δt), targets (x_{t+k}, v_{t+k}).

Both train in the shared loop (:func:`hopformer.ml.loop.fit`: seeded batches, schedule,
checkpoints and resume), on the CPU or a GPU; the loss weighs velocities so that position and
velocity terms are O(1) at thermal speeds. Their judging against reference MD is
:mod:`hopformer.surrogates.evaluation`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields

import numpy as np
import torch

from hopformer.data import schema
from hopformer.data.shards import read_table
from hopformer.ml.loop import Schedule, fingerprint, seeded_init
from hopformer.ml.loop import fit as fit_loop
from hopformer.ml.modelfile import build_model, read_model_file, save_model_file
from hopformer.physics.structure import minimum_image, neighbours
from hopformer.streams import SURROGATE_STEP, rng
from hopformer.surrogates.integrator import DisplacementIntegrator, IntegratorConfig, _tensors
from hopformer.surrogates.predictor import PredictorConfig, TrajectoryPredictor

SURROGATES = {
    "integrator": (DisplacementIntegrator, IntegratorConfig),
    "predictor": (TrajectoryPredictor, PredictorConfig),
}
VELOCITY_WEIGHT = 100.0  # (Å/fs)⁻² against Å⁻²: thermal Δv ~ 0.02 Å/fs, Δx ~ 0.1 Å


@dataclass(frozen=True)
class SurrogateTraining:
    """Optimisation settings of a surrogate (config ``trajectory.integrator`` / ``.predictor``)."""

    steps: int = 300
    batch_size: int = 4
    learning_rate: float = 1e-3
    checkpoint_every: int = 100
    seed: int = 0
    device: str = "cpu"


def read_run(path, periodic: bool | None = None) -> dict:
    """One reference run's frames: positions, velocities (F, N, 3), numbers, cell (None for a
    free cluster), time_fs, total_energy (F,), temperature, timestep_fs, ensemble.
    ``periodic`` True or False refuses a run of the other kind."""
    rows = read_table(path, schema.TRAJECTORY_FRAMES).to_pylist()
    if len(rows) < 2:
        raise ValueError(f"{path}: a reference run needs at least 2 frames, found {len(rows)}")
    has_cell = bool(rows[0]["cell"])
    if periodic is not None and has_cell != periodic:
        raise ValueError(
            f"{path}: expected a {'periodic' if periodic else 'free-cluster'} run "
            f"(system {rows[0]['system']!r})"
        )
    n = len(rows[0]["numbers"])
    return {
        "positions": np.array([np.reshape(r["positions"], (n, 3)) for r in rows]),
        "velocities": np.array([np.reshape(r["velocities"], (n, 3)) for r in rows]),
        "numbers": np.asarray(rows[0]["numbers"], dtype=np.int64),
        "cell": np.reshape(rows[0]["cell"], (3, 3)) if has_cell else None,
        "time_fs": np.array([r["time_fs"] for r in rows]),
        "total_energy": np.array([r["potential_energy"] + r["kinetic_energy"] for r in rows]),
        "temperature": rows[0]["temperature"],
        "timestep_fs": rows[0]["timestep_fs"],
        "ensemble": rows[0]["ensemble"],
    }


def frame_stride(run: dict, stride_fs: float) -> int:
    dt = float(run["time_fs"][1] - run["time_fs"][0])
    s = stride_fs / dt
    if abs(s - round(s)) > 1e-9 or round(s) < 1:
        raise ValueError(f"time step {stride_fs} fs is not a multiple of the frame spacing {dt} fs")
    return round(s)


def samples(run: dict, stride_fs: float) -> list[tuple]:
    """(x, v, Δx, Δv) of every frame pair ``stride_fs`` apart in ``run``."""
    s = frame_stride(run, stride_fs)
    x, v, cell = run["positions"], run["velocities"], run["cell"]
    return [
        (x[t], v[t], minimum_image(x[t + s] - x[t], cell), v[t + s] - v[t])
        for t in range(len(x) - s)
    ]


def fit(
    model: torch.nn.Module,
    n_samples: int,
    loss_of: Callable[[int], torch.Tensor],
    settings: SurrogateTraining,
    checkpoint_dir=None,
    loss_log=None,
    fp: str = "",
    log: Callable[[str], None] = lambda m: None,
) -> list[dict]:
    """The shared loop (:func:`hopformer.ml.loop.fit`): Adam with cosine decay; each step
    averages ``loss_of(k)`` over ``batch_size`` sample indices drawn from (seed, step).
    Returns the loss per step."""
    if n_samples < 1:
        raise ValueError("no training samples: runs shorter than one step")
    opt = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
    size = min(settings.batch_size, n_samples)

    def step_loss(step: int) -> tuple[float, dict]:
        loss = 0.0
        for k in rng(settings.seed, SURROGATE_STEP, step).choice(n_samples, size, replace=False):
            term = loss_of(int(k))
            (term / settings.batch_size).backward()
            loss += float(term.detach()) / settings.batch_size
        return loss, {"loss": loss}

    schedule = Schedule(settings.steps, settings.learning_rate, 0, settings.checkpoint_every)
    _, rows = fit_loop(
        model,
        opt,
        schedule,
        step_loss,
        fp=fp,
        checkpoint_dir=checkpoint_dir,
        loss_log=loss_log,
        columns=("step", "loss"),
        log=log,
    )
    return rows


def _squared(pred_x, pred_v, x, v, device) -> torch.Tensor:
    t = lambda a: torch.as_tensor(a, device=device)  # noqa: E731
    return ((pred_x - t(x)) ** 2).mean() + VELOCITY_WEIGHT * ((pred_v - t(v)) ** 2).mean()


def train(
    runs: Sequence[dict],
    config: IntegratorConfig,
    settings: SurrogateTraining,
    checkpoint_dir=None,
    loss_log=None,
    log: Callable[[str], None] = lambda m: None,
) -> tuple[DisplacementIntegrator, list[dict]]:
    """The integrator trained for ``settings.steps`` optimiser steps (resumable from
    ``checkpoint_dir``)."""
    device = settings.device
    model = seeded_init(settings.seed, lambda: DisplacementIntegrator(config)).double().to(device)
    data = [(sample, run) for run in runs for sample in samples(run, config.stride_fs)]

    def loss_of(k: int) -> torch.Tensor:
        (x, v, dx, dv), run = data[k]
        inputs = [t.to(device) for t in _tensors(x, v, run["numbers"], run["cell"], config.cutoff)]
        return _squared(*model(*inputs), dx, dv, device)

    fp = fingerprint("integrator", asdict(config), asdict(settings), run_checksum(runs))
    history = fit(model, len(data), loss_of, settings, checkpoint_dir, loss_log, fp, log)
    return model.cpu(), history


def train_predictor(
    runs: Sequence[dict],
    config: PredictorConfig,
    stride_fs: float,
    settings: SurrogateTraining,
    checkpoint_dir=None,
    loss_log=None,
    log: Callable[[str], None] = lambda m: None,
) -> tuple[TrajectoryPredictor, list[dict]]:
    """The direct predictor trained on frame pairs k·``stride_fs`` apart, k·stride ≤ horizon
    (told each run's ensemble: it learns the mean of Langevin steps). Each sample's loss is
    divided by Δt/horizon, so short steps (where sub-pm accuracy is wanted) weigh as much as
    long ones."""
    device = settings.device
    model = seeded_init(settings.seed, lambda: TrajectoryPredictor(config)).double().to(device)
    data = []
    for r, run in enumerate(runs):
        s = frame_stride(run, stride_fs)
        ks = range(1, int(config.horizon_fs / stride_fs + 1e-9) + 1)
        data += [
            (r, t, k * s, k * stride_fs) for k in ks for t in range(len(run["time_fs"]) - k * s)
        ]

    def loss_of(n: int) -> torch.Tensor:
        r, t, lag, dt = data[n]
        run = runs[r]
        x, v = run["positions"][t], run["velocities"][t]
        i, j, _ = neighbours(x, None, config.cutoff)
        as_t = lambda a: torch.as_tensor(a, device=device)  # noqa: E731
        px, pv = model(
            as_t(x),
            as_t(v),
            as_t(run["numbers"]),
            as_t(i),
            as_t(j),
            dt,
            run.get("ensemble") == "langevin",
        )
        target_x, target_v = run["positions"][t + lag], run["velocities"][t + lag]
        return _squared(px, pv, target_x, target_v, device) * (config.horizon_fs / dt)

    fp = fingerprint("predictor", asdict(config), stride_fs, asdict(settings), run_checksum(runs))
    history = fit(model, len(data), loss_of, settings, checkpoint_dir, loss_log, fp, log)
    return model.cpu(), history


def run_checksum(runs: Sequence[dict]) -> str:
    h = hashlib.sha256()
    for run in runs:
        h.update(np.ascontiguousarray(run["positions"]).tobytes())
        h.update(np.ascontiguousarray(run["velocities"]).tobytes())
    return h.hexdigest()


def save_surrogate(path, kind: str, model: torch.nn.Module, summary: dict, **extra) -> None:
    """The model file (:mod:`hopformer.ml.modelfile`); ``extra`` (e.g. the predictor's frame
    stride) is kept in its config."""
    config = asdict(model.config)
    if set(extra) & set(config):
        raise ValueError(
            f"model file extras {sorted(set(extra) & set(config))} clash with the {kind}'s config"
        )
    save_model_file(path, kind, {**config, **extra}, model, summary)


def load_surrogate(path, kind: str) -> tuple[torch.nn.Module, dict]:
    """(model in float64 eval mode, the config's extras) of a surrogate's model file."""
    blob = read_model_file(path, kind, f"train one with 'hopformer train-{kind}'")
    network, config_type = SURROGATES[kind]
    names = {f.name for f in fields(config_type)}
    extra = {k: v for k, v in blob["config"].items() if k not in names}
    make = lambda c: network(config_type(**{k: c[k] for k in names if k in c}))  # noqa: E731
    return build_model(blob, path, make).double().eval(), extra
