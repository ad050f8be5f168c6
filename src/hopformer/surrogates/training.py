"""Training the trajectory surrogates on reference frames, and judging their rollouts against
the reference MD started from the same state (issue 7).

* GNN displacement integrator (part B, periodic bulk): a sample is a pair of frames one
  stride apart: inputs (x_t, v_t), targets Δx = minimum-image(x_{t+s} − x_t), Δv = v_{t+s} − v_t.
* Direct trajectory predictor (part A, free cluster): a sample is a pair of frames k strides
  apart for any k with k·stride ≤ horizon: inputs (x_t, v_t, Δt), targets (x_{t+k}, v_{t+k}).

One seeded optimiser loop (:func:`fit`) trains both, on the CPU or a GPU; the loss weighs
velocities so that position and velocity terms are O(1) at thermal speeds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
import torch

from hopformer.physics.structure import neighbours
from hopformer.surrogates.integrator import DisplacementIntegrator, IntegratorConfig, _tensors
from hopformer.surrogates.judge import judge_rollout, masses_of, reference_speed
from hopformer.surrogates.metrics import minimum_image, position_error, stable_horizon
from hopformer.surrogates.predictor import (
    PredictorConfig,
    Thermostat,
    TrajectoryPredictor,
    chain,
    predict,
)

VELOCITY_WEIGHT = 100.0  # (Å/fs)⁻² against Å⁻²: thermal Δv ~ 0.02 Å/fs, Δx ~ 0.1 Å


def read_run(path, periodic: bool | None = None) -> dict:
    """One reference run's frames: positions, velocities (F, N, 3), numbers, cell (None for a
    free cluster), time_fs, total_energy (F,), temperature, timestep_fs, ensemble.
    ``periodic`` True or False refuses a run of the other kind."""
    from hopformer.data import schema
    from hopformer.data.shards import read_table

    rows = read_table(path, schema.TRAJECTORY_FRAMES).to_pylist()
    if len(rows) < 2:
        raise ValueError(f"{path}: a reference run needs at least 2 frames, found {len(rows)}")
    has_cell = bool(rows[0]["cell"])
    if periodic is not None and has_cell != periodic:
        raise ValueError(f"{path}: expected a {'periodic' if periodic else 'free-cluster'} run "
                         f"(system {rows[0]['system']!r})")  # fmt: skip
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
        raise ValueError(f"time step {stride_fs} fs is not a multiple of the frame spacing "
                         f"{dt} fs")  # fmt: skip
    return round(s)


def samples(run: dict, stride_fs: float) -> list[tuple]:
    """(x, v, Δx, Δv) of every frame pair ``stride_fs`` apart in ``run``."""
    s = frame_stride(run, stride_fs)
    x, v, cell = run["positions"], run["velocities"], run["cell"]
    return [(x[t], v[t], minimum_image(x[t + s] - x[t], cell), v[t + s] - v[t])
            for t in range(len(x) - s)]  # fmt: skip


def fit(model: torch.nn.Module, n_samples: int, loss_of: Callable[[int], torch.Tensor],
        steps: int, seed: int, learning_rate: float, batch: int,
        log: Callable[[str], None]) -> list[dict]:  # fmt: skip
    """Adam with cosine decay for ``steps`` steps; each step averages ``loss_of(k)`` over a
    seeded choice of ``batch`` sample indices. Returns the loss per step."""
    if n_samples < 1:
        raise ValueError("no training samples: runs shorter than one step")
    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(model.parameters(), lr=learning_rate)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps, eta_min=0.05 * learning_rate)
    history = []
    start = time.perf_counter()
    for step in range(steps):
        loss = 0.0
        opt.zero_grad()
        for k in rng.choice(n_samples, size=min(batch, n_samples), replace=False):
            term = loss_of(int(k))
            (term / batch).backward()
            loss += float(term.detach()) / batch
        opt.step()
        sched.step()
        history.append({"step": step, "loss": loss})
        if step % max(1, steps // 10) == 0 or step == steps - 1:
            log(f"step {step}: loss {loss:.4g} ({time.perf_counter() - start:.0f} s)")
    return history


def _squared(pred_x, pred_v, x, v, device) -> torch.Tensor:
    t = lambda a: torch.as_tensor(a, device=device)  # noqa: E731
    return ((pred_x - t(x)) ** 2).mean() + VELOCITY_WEIGHT * ((pred_v - t(v)) ** 2).mean()


def train(
    runs: Sequence[dict],
    config: IntegratorConfig,
    steps: int,
    seed: int,
    learning_rate: float = 1e-3,
    batch: int = 4,
    device: str = "cpu",
    log: Callable[[str], None] = lambda m: None,
) -> tuple[DisplacementIntegrator, list[dict]]:
    """The integrator trained for ``steps`` optimiser steps of ``batch`` samples."""
    torch.manual_seed(seed)
    model = DisplacementIntegrator(config).double().to(device)
    data = [(sample, run) for run in runs for sample in samples(run, config.stride_fs)]

    def loss_of(k: int) -> torch.Tensor:
        (x, v, dx, dv), run = data[k]
        inputs = [t.to(device) for t in _tensors(x, v, run["numbers"], run["cell"],
                                                 config.cutoff)]  # fmt: skip
        return _squared(*model(*inputs), dx, dv, device)

    history = fit(model, len(data), loss_of, steps, seed, learning_rate, batch, log)
    return model.cpu(), history


def train_predictor(
    runs: Sequence[dict],
    config: PredictorConfig,
    stride_fs: float,
    steps: int,
    seed: int,
    learning_rate: float = 1e-3,
    batch: int = 4,
    device: str = "cpu",
    log: Callable[[str], None] = lambda m: None,
) -> tuple[TrajectoryPredictor, list[dict]]:
    """The direct predictor trained on frame pairs k·``stride_fs`` apart, k·stride ≤ horizon
    (told each run's ensemble: it learns the mean of Langevin steps). Each sample's loss is
    divided by Δt/horizon, so short steps (where sub-pm accuracy is wanted) weigh as much as
    long ones."""
    torch.manual_seed(seed)
    model = TrajectoryPredictor(config).double().to(device)
    data = []
    for r, run in enumerate(runs):
        s = frame_stride(run, stride_fs)
        ks = range(1, int(config.horizon_fs / stride_fs + 1e-9) + 1)
        data += [(r, t, k * s, k * stride_fs) for k in ks for t in range(len(run["time_fs"])
                                                                          - k * s)]  # fmt: skip

    def loss_of(n: int) -> torch.Tensor:
        r, t, lag, dt = data[n]
        run = runs[r]
        x, v = run["positions"][t], run["velocities"][t]
        i, j, _ = neighbours(x, None, config.cutoff)
        as_t = lambda a: torch.as_tensor(a, device=device)  # noqa: E731
        px, pv = model(as_t(x), as_t(v), as_t(run["numbers"]), as_t(i), as_t(j), dt,
                       run.get("ensemble") == "langevin")  # fmt: skip
        target_x, target_v = run["positions"][t + lag], run["velocities"][t + lag]
        return _squared(px, pv, target_x, target_v, device) * (config.horizon_fs / dt)

    history = fit(model, len(data), loss_of, steps, seed, learning_rate, batch, log)
    return model.cpu(), history


def evaluate(model: DisplacementIntegrator, run: dict, strides: int,
             potential: str | None = None) -> tuple[dict, dict]:  # fmt: skip
    """Roll the integrator out from the run's first frame for ``strides`` and judge it against
    the run from there on (:func:`~hopformer.surrogates.judge.judge_rollout`); with the
    reference ``potential``, also the energy it conserves and the reference MD's speed."""
    from hopformer.surrogates.integrator import rollout

    s = frame_stride(run, model.config.stride_fs)
    strides = min(strides, (len(run["positions"]) - 1) // s)
    ref_x = run["positions"][: strides * s + 1 : s]
    ref_v = run["velocities"][: strides * s + 1 : s]
    cell, numbers = run["cell"], run["numbers"]
    start = time.perf_counter()
    xs, vs = rollout(model, ref_x[0], ref_v[0], numbers, cell, strides)
    wall = time.perf_counter() - start
    stride_fs = model.config.stride_fs
    summary, curves = judge_rollout(xs, vs, ref_x, ref_v, numbers, cell, stride_fs,
                                    run["temperature"], potential,
                                    run["total_energy"][: strides * s + 1 : s])  # fmt: skip
    summary["wall_s_per_ps"] = wall / summary["simulated_ps"]
    if potential is not None:
        summary["reference_wall_s_per_ps"] = reference_speed(
            potential, numbers, ref_x[0], ref_v[0], cell, run["timestep_fs"])  # fmt: skip
        summary["speedup"] = summary["reference_wall_s_per_ps"] / summary["wall_s_per_ps"]
    return summary, curves


def evaluate_predictor(model: TrajectoryPredictor, run: dict, stride_fs: float,
                       rollout_ps: float, potential: str | None = None, damping_fs: float = 100.0,
                       seed: int = 0, starts: int = 20) -> tuple[dict, dict]:  # fmt: skip
    """The direct predictor against a held-out cluster run:

    * single predictions of Δt = stride, 10 strides and the horizon (where ≤ horizon) from
      ``starts`` frames spread over the run: mean RMS position error (pm);
    * a chain of Δt = ``stride_fs`` predictions for ``rollout_ps`` from the first frame, judged
      with :func:`~hopformer.surrogates.judge.judge_rollout` (VACF spectrum, structure, energy,
      stability, ...);
    * a chain of Δt = horizon predictions over the same time: its stable horizon and its error
      at the end (the predictor's long-step use);
    * wall time per simulated ps of both chains, and of the reference MD with ``potential``.

    A Langevin run is chained with its thermostat (``damping_fs``; noise seeded by ``seed``),
    its single predictions are the mean.
    """
    s = frame_stride(run, stride_fs)
    x, v, numbers = run["positions"], run["velocities"], run["numbers"]
    last = len(x) - 1
    langevin = run["ensemble"] == "langevin"
    thermostat = Thermostat(run["temperature"], damping_fs, seed) if langevin else None
    summary: dict = {}
    horizon = model.config.horizon_fs
    for k in sorted({1, 10, int(horizon / stride_fs + 1e-9)}):
        dt = k * stride_fs
        if dt > horizon or k * s > last:
            continue
        errs = []
        for t in np.linspace(0, last - k * s, starts).round().astype(int):
            px, _ = predict(model, x[t], v[t], numbers, dt, langevin)
            errs.append(float(position_error(px, x[t + k * s])) * 100)
        summary[f"single_error_pm_{dt:g}fs"] = float(np.mean(errs))
    segments = min(int(round(rollout_ps * 1000 / stride_fs)), last // s)
    start = time.perf_counter()
    xs, vs = chain(model, x[0], v[0], numbers, stride_fs, segments, thermostat)
    wall = time.perf_counter() - start
    span = slice(0, segments * s + 1, s)
    fine, curves = judge_rollout(xs, vs, x[span], run["velocities"][span], numbers, None,
                                 stride_fs, run["temperature"], potential,
                                 run["total_energy"][span])  # fmt: skip
    summary.update(fine)
    summary["wall_s_per_ps"] = wall / fine["simulated_ps"]
    long_steps = int(segments * stride_fs // horizon)
    if long_steps >= 1:
        start = time.perf_counter()
        lx, lv = chain(model, x[0], v[0], numbers, horizon, long_steps, thermostat)
        wall = time.perf_counter() - start
        lag = int(round(horizon / stride_fs)) * s
        ref = x[: long_steps * lag + 1 : lag]
        summary.update(
            long_step_fs=horizon,
            long_error_pm_end=float(position_error(lx[-1], ref[-1])) * 100,
            long_stable_horizon_fs=stable_horizon(lx, lv, masses_of(numbers), horizon,
                                                  run["temperature"]),
            long_wall_s_per_ps=wall / (long_steps * horizon / 1000))  # fmt: skip
    if potential is not None:
        summary["reference_wall_s_per_ps"] = reference_speed(
            potential, numbers, x[0], v[0], None, run["timestep_fs"])  # fmt: skip
        summary["speedup"] = summary["reference_wall_s_per_ps"] / summary["wall_s_per_ps"]
    return summary, curves
