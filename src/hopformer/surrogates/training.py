"""Training the GNN displacement integrator on reference frames, and judging its rollouts
against the reference MD started from the same state (issue 7, part B).

A training sample is a pair of frames ``stride`` apart in one run: inputs (x_t, v_t), targets
Δx = minimum-image(x_{t+s} − x_t) and Δv = v_{t+s} − v_t. Training is seeded and runs on the
CPU or a GPU; the loss weighs Δv so that both terms are O(1) at thermal speeds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
import torch

from hopformer.surrogates.integrator import DisplacementIntegrator, IntegratorConfig, _tensors
from hopformer.surrogates.metrics import (
    minimum_image,
    msd,
    position_error,
    rdf,
    rdf_l1,
    rdf_reach,
    stable_horizon,
    temperature,
    unwrap,
)

VELOCITY_WEIGHT = 100.0  # (Å/fs)⁻² against Å⁻²: thermal Δv ~ 0.02 Å/fs, Δx ~ 0.1 Å


def read_run(path) -> dict[str, np.ndarray]:
    """One reference run's frames: positions, velocities (F, N, 3), numbers, cell, time_fs."""
    from hopformer.data import schema
    from hopformer.data.shards import read_table

    rows = read_table(path, schema.TRAJECTORY_FRAMES).to_pylist()
    if not rows or not rows[0]["cell"]:
        raise ValueError(f"{path}: the integrator needs a periodic run (frames with a cell)")
    n = len(rows[0]["numbers"])
    return {
        "positions": np.array([np.reshape(r["positions"], (n, 3)) for r in rows]),
        "velocities": np.array([np.reshape(r["velocities"], (n, 3)) for r in rows]),
        "numbers": np.asarray(rows[0]["numbers"], dtype=np.int64),
        "cell": np.reshape(rows[0]["cell"], (3, 3)),
        "time_fs": np.array([r["time_fs"] for r in rows]),
        "temperature": rows[0]["temperature"],
    }


def frame_stride(run: dict, stride_fs: float) -> int:
    dt = float(run["time_fs"][1] - run["time_fs"][0])
    s = stride_fs / dt
    if abs(s - round(s)) > 1e-9 or round(s) < 1:
        raise ValueError(f"integrator stride {stride_fs} fs is not a multiple of the frame "
                         f"spacing {dt} fs")  # fmt: skip
    return round(s)


def samples(run: dict, stride_fs: float) -> list[tuple]:
    """(x, v, Δx, Δv) of every frame pair ``stride_fs`` apart in ``run``."""
    s = frame_stride(run, stride_fs)
    x, v, cell = run["positions"], run["velocities"], run["cell"]
    return [(x[t], v[t], minimum_image(x[t + s] - x[t], cell), v[t + s] - v[t])
            for t in range(len(x) - s)]  # fmt: skip


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
    """A model trained for ``steps`` optimiser steps of ``batch`` samples (seeded choice)."""
    torch.manual_seed(seed)
    model = DisplacementIntegrator(config).double().to(device)
    data = [(sample, run) for run in runs for sample in samples(run, config.stride_fs)]
    if not data:
        raise ValueError("no training samples: runs shorter than one stride")
    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(model.parameters(), lr=learning_rate)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps, eta_min=0.05 * learning_rate)
    history = []
    start = time.perf_counter()
    for step in range(steps):
        loss = 0.0
        opt.zero_grad()
        for k in rng.choice(len(data), size=min(batch, len(data)), replace=False):
            (x, v, dx, dv), run = data[k]
            inputs = [t.to(device) for t in _tensors(x, v, run["numbers"], run["cell"],
                                                     config.cutoff)]  # fmt: skip
            px, pv = model(*inputs)
            term = ((px - torch.as_tensor(dx, device=device)) ** 2).mean() + VELOCITY_WEIGHT * (
                (pv - torch.as_tensor(dv, device=device)) ** 2).mean()  # fmt: skip
            (term / batch).backward()
            loss += float(term.detach()) / batch
        opt.step()
        sched.step()
        history.append({"step": step, "loss": loss})
        if step % max(1, steps // 10) == 0 or step == steps - 1:
            log(f"step {step}: loss {loss:.4g} ({time.perf_counter() - start:.0f} s)")
    return model.cpu(), history


def evaluate(model: DisplacementIntegrator, run: dict, strides: int, wall_reference_s: float
             | None = None) -> tuple[dict, dict]:  # fmt: skip
    """Roll out from the run's first frame and compare with the reference from there on.

    Returns (summary, curves): position error at 1, 10, 100 strides (pm), RDF L1, MSD of
    rollout and reference at the end, D of both, temperature drift, stable horizon, and wall
    time per simulated ps (against ``wall_reference_s`` per ps of reference MD if given).
    """
    from hopformer.surrogates.integrator import rollout

    s = frame_stride(run, model.config.stride_fs)
    strides = min(strides, (len(run["positions"]) - 1) // s)
    ref_x = run["positions"][: strides * s + 1 : s]
    ref_v = run["velocities"][: strides * s + 1 : s]
    cell, numbers = run["cell"], run["numbers"]
    start = time.perf_counter()
    xs, vs = rollout(model, ref_x[0], ref_v[0], numbers, cell, strides)
    wall = time.perf_counter() - start
    err = position_error(unwrap(xs, cell), unwrap(ref_x, cell), None) * 100  # pm
    r_max = min(6.0, rdf_reach(cell))
    r, g_model = rdf(xs[strides // 2 :], cell, r_max, 120)
    _, g_ref = rdf(ref_x[strides // 2 :], cell, r_max, 120)
    m_model, m_ref = msd(unwrap(xs, cell)), msd(unwrap(ref_x, cell))
    masses = _masses(numbers)
    t_model, t_ref = temperature(vs, masses, 3), temperature(ref_v, masses, 3)
    stride_fs = model.config.stride_fs
    simulated_ps = strides * stride_fs / 1000
    summary = {
        "strides": strides, "stride_fs": stride_fs,
        **{f"position_error_pm_{k}_strides": float(err[k]) for k in (1, 10, 100) if k <= strides},
        "rdf_l1": rdf_l1(g_model, g_ref, r),
        "msd_end_model": float(m_model[-1]), "msd_end_reference": float(m_ref[-1]),
        "msd_ratio": float(m_model[-1] / m_ref[-1]) if m_ref[-1] > 0 else None,
        "temperature_model_mean": float(t_model.mean()),
        "temperature_reference_mean": float(t_ref.mean()),
        "stable_horizon_fs": stable_horizon(xs, vs, masses, stride_fs, run["temperature"], cell),
        "wall_s_per_ps": wall / simulated_ps if simulated_ps else None,
        "reference_wall_s_per_ps": wall_reference_s,
    }  # fmt: skip
    curves = {"time_fs": np.arange(strides + 1) * stride_fs, "position_error_pm": err,
              "msd_model": m_model, "msd_reference": m_ref, "temperature_model": t_model,
              "temperature_reference": t_ref, "r": r, "rdf_model": g_model,
              "rdf_reference": g_ref}  # fmt: skip
    return summary, curves


def _masses(numbers: np.ndarray) -> np.ndarray:
    from ase.data import atomic_masses

    return atomic_masses[np.asarray(numbers)]
