"""Judging the trajectory surrogates against the reference MD started from the same state:
rollouts of the integrator, single predictions and chains of the direct predictor (the metrics
are :mod:`hopformer.surrogates.rollouts`)."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from hopformer.physics.md import masses_of, md_speed
from hopformer.physics.potentials import scorer
from hopformer.physics.structure import minimum_image
from hopformer.surrogates.integrator import DisplacementIntegrator, kinetic_energy, rollout
from hopformer.surrogates.integrator import predict as integrator_step
from hopformer.surrogates.metrics import position_error
from hopformer.surrogates.predictor import Thermostat, TrajectoryPredictor, chain, predict
from hopformer.surrogates.rollouts import judge_rollout
from hopformer.surrogates.training import frame_stride


@contextmanager
def held_energy(
    potential: str | None, numbers: np.ndarray, first: np.ndarray, cell: np.ndarray | None = None
) -> Iterator[Callable[[np.ndarray], float] | None]:
    """The potential energy (positions → eV) a rollout holds on ``potential``, one engine open
    while the context lasts and energies only (no forces); None when no potential is given."""
    if potential is None:
        yield None
        return
    with scorer(potential, numbers, first, cell) as one:
        yield lambda y: one(y, forces=False)[0]


def evaluate(
    model: DisplacementIntegrator,
    run: dict,
    strides: int,
    potential: str | None = None,
    hold_potential: str | None = None,
) -> tuple[dict, dict]:
    """Roll the integrator out from the run's first frame for ``strides`` and judge it against
    the run from there on (:func:`~hopformer.surrogates.rollouts.judge_rollout`); with the
    reference ``potential``, also the energy it conserves and the reference MD's speed. With
    ``hold_potential`` (a potential file), the rollout holds its total energy on it (one call
    per stride; :func:`~hopformer.surrogates.integrator.rollout`)."""
    s = frame_stride(run, model.config.stride_fs)
    strides = min(strides, (len(run["positions"]) - 1) // s)
    ref_x = run["positions"][: strides * s + 1 : s]
    ref_v = run["velocities"][: strides * s + 1 : s]
    cell, numbers = run["cell"], run["numbers"]
    with held_energy(hold_potential, numbers, ref_x[0], cell) as energy:
        start = time.perf_counter()
        xs, vs = rollout(model, ref_x[0], ref_v[0], numbers, cell, strides, energy)
        wall = time.perf_counter() - start
    stride_fs = model.config.stride_fs
    summary, curves = judge_rollout(
        xs,
        vs,
        ref_x,
        ref_v,
        numbers,
        cell,
        stride_fs,
        run["temperature"],
        potential,
        run["total_energy"][: strides * s + 1 : s],
    )
    summary["wall_s_per_ps"] = wall / summary["simulated_ps"]
    summary.update(single_strides(model, run))
    if potential is not None:
        summary["reference_wall_s_per_ps"] = md_speed(
            potential, numbers, ref_x[0], ref_v[0], cell, run["timestep_fs"]
        )
        summary["speedup"] = summary["reference_wall_s_per_ps"] / summary["wall_s_per_ps"]
    return summary, curves


def single_strides(model: DisplacementIntegrator, run: dict, starts: int = 20) -> dict:
    """One stride from ``starts`` frames spread over the run, against the frame it reaches:
    the RMS position error (pm) beside free flight's (x + τ v), and how much of the true
    departure from free flight (Δx − τ v) and of the true velocity change Δv the model's
    carry — the slope of its projection on the true one, summed over atoms and frames. Both
    come from the forces: below 1 the force is read too soft. A slope of 1 does not make a
    rollout right; the integrator's long waves were pumped with one (docs/results.md,
    "Galilean invariance"). ``kinetic_gain_percent``: the kinetic energy a stride ends with
    beyond the true frame's, in percent of the start's; below 0 the step drains energy, which
    a held rollout puts back into every atom alike."""
    tau = model.config.stride_fs
    s = frame_stride(run, tau)
    x, v, numbers, cell = run["positions"], run["velocities"], run["numbers"], run["cell"]
    masses = masses_of(numbers)
    # error², free flight's error², departure ·, |·|², Δv ·, |·|², kinetic gain, kinetic
    sums = np.zeros(8)
    for t in np.linspace(0, len(x) - 1 - s, starts).round().astype(int):
        dx, dv = integrator_step(model, x[t], v[t], numbers, cell)
        true_dx = minimum_image(x[t + s] - x[t], cell)
        true_dv = v[t + s] - v[t]
        gone = true_dx - tau * v[t]
        sums += [
            ((dx - true_dx) ** 2).sum(-1).mean(),
            (gone**2).sum(-1).mean(),
            ((dx - tau * v[t]) * gone).sum(),
            (gone**2).sum(),
            (dv * true_dv).sum(),
            (true_dv**2).sum(),
            kinetic_energy(v[t] + dv, masses) - kinetic_energy(v[t + s], masses),
            kinetic_energy(v[t], masses),
        ]
    return {
        "single_error_pm": float(np.sqrt(sums[0] / starts)) * 100,
        "free_flight_error_pm": float(np.sqrt(sums[1] / starts)) * 100,
        "departure_slope": float(sums[2] / sums[3]),
        "velocity_change_slope": float(sums[4] / sums[5]),
        "kinetic_gain_percent": float(sums[6] / sums[7]) * 100,
    }


def evaluate_predictor(
    model: TrajectoryPredictor,
    run: dict,
    stride_fs: float,
    rollout_ps: float,
    potential: str | None = None,
    damping_fs: float = 100.0,
    seed: int = 0,
    starts: int = 20,
    hold_potential: str | None = None,
    noise: str = "ou",
    long_step_fs: float | None = None,
    fast: FastChain | None = None,
) -> tuple[dict, dict]:
    """The direct predictor against a held-out cluster run:

    * single predictions of Δt = stride, 10 strides and the horizon (where ≤ horizon) from
      ``starts`` frames spread over the run: mean RMS position error (pm);
    * a chain of Δt = ``stride_fs`` predictions for ``rollout_ps`` from the first frame, judged
      with :func:`~hopformer.surrogates.rollouts.judge_rollout` (VACF spectrum, structure, energy,
      stability, ...);
    * a chain of Δt = ``long_step_fs`` (default: the horizon) over the same time, judged the
      same way on the reference frames at its own steps and reported as ``long_*``: its
      temperature and step-to-step swing beside the reference's, spectrum, structure, stable
      horizon and error at the end (the predictor's long-step use), run as ``fast`` says
      (its holds, dtype and compilation; default: as the first chain);
    * wall time per simulated ps of both chains, and of the reference MD with ``potential``.

    A Langevin run is chained with its thermostat (``damping_fs``; ``noise`` as
    :class:`~hopformer.surrogates.predictor.Thermostat`'s, seeded by ``seed``),
    its single predictions are the mean. An NVE chain holds its total energy on
    ``hold_potential`` (a potential file: one energy call per step) where given, else on the
    model's learned energy (:func:`~hopformer.surrogates.predictor.chain`).
    """
    long_fs = model.config.horizon_fs if long_step_fs is None else long_step_fs
    k = long_fs / stride_fs
    if abs(k - round(k)) > 1e-9 or not stride_fs <= long_fs <= model.config.horizon_fs:
        raise ValueError(
            f"long_step_fs {long_fs:g}: expected a multiple of the stride ({stride_fs:g} fs) "
            f"up to the model's horizon ({model.config.horizon_fs:g} fs)"
        )
    nve = run["ensemble"] != "langevin"
    hold = hold_potential if nve else None
    thermostat = None if nve else Thermostat(run["temperature"], damping_fs, seed, noise)
    with held_energy(hold, run["numbers"], run["positions"][0]) as energy:
        return _evaluate_predictor(
            model,
            run,
            stride_fs,
            rollout_ps,
            potential,
            thermostat,
            starts,
            energy,
            long_fs,
            fast or FastChain(),
        )


@dataclass(frozen=True)
class FastChain:
    """How the long-step chain runs: its NVE energy held after every ``hold_every`` steps, its
    model in float32 (``float32``; the state stays float64) and through ``torch.compile``
    (``compile``; compiled before the chain is timed). Each is a speed lever measured in
    docs/results.md, "The fast chain"."""

    hold_every: int = 1
    float32: bool = False
    compile: bool = False


def _timed_chain(model, x, v, numbers, dt, steps, thermostat, energy, fast=FastChain()):
    """(positions, velocities, wall s) of a chain; a compiled one is compiled first, untimed."""
    if fast.float32:
        model = copy.deepcopy(model).float()
    options = {"hold_every": fast.hold_every, "compile": fast.compile}
    if fast.compile:
        chain(model, x, v, numbers, dt, 2, thermostat, energy, **options)
    start = time.perf_counter()
    xs, vs = chain(model, x, v, numbers, dt, steps, thermostat, energy, **options)
    return xs, vs, time.perf_counter() - start


def _evaluate_predictor(
    model, run, stride_fs, rollout_ps, potential, thermostat, starts, energy, long_fs, fast
) -> tuple[dict, dict]:
    s = frame_stride(run, stride_fs)
    x, v, numbers = run["positions"], run["velocities"], run["numbers"]
    last = len(x) - 1
    langevin = thermostat is not None
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
    xs, vs, wall = _timed_chain(model, x[0], v[0], numbers, stride_fs, segments, thermostat, energy)
    span = slice(0, segments * s + 1, s)
    fine, curves = judge_rollout(
        xs,
        vs,
        x[span],
        run["velocities"][span],
        numbers,
        None,
        stride_fs,
        run["temperature"],
        potential,
        run["total_energy"][span],
    )
    summary.update(fine)
    summary["wall_s_per_ps"] = wall / fine["simulated_ps"]
    long_steps = int(segments * stride_fs // long_fs)
    if long_steps >= 1:
        lx, lv, wall = _timed_chain(
            model, x[0], v[0], numbers, long_fs, long_steps, thermostat, energy, fast
        )
        lag = int(round(long_fs / stride_fs)) * s
        at = slice(0, long_steps * lag + 1, lag)
        ref = x[at]
        judged, c = judge_rollout(lx, lv, ref, v[at], numbers, None, long_fs, run["temperature"])
        # a held chain can keep its mean temperature while swinging from step to step; the
        # swing beside the reference's at the same times shows it (docs/results.md)
        summary.update(
            long_step_fs=long_fs,
            long_temperature_model_mean=judged["temperature_model_mean"],
            long_temperature_reference_mean=judged["temperature_reference_mean"],
            long_temperature_model_std=float(c["temperature_model"].std()),
            long_temperature_reference_std=float(c["temperature_reference"].std()),
            long_vdos_mean_ratio=judged["vdos_mean_ratio"],
            long_vdos_l1=judged["vdos_l1"],
            long_structure_l1=judged["structure_l1"],
            long_error_pm_end=float(position_error(lx[-1], ref[-1])) * 100,
            long_stable_horizon_fs=judged["stable_horizon_fs"],
            long_wall_s_per_ps=wall / (long_steps * long_fs / 1000),
        )
    if potential is not None:
        summary["reference_wall_s_per_ps"] = md_speed(
            potential, numbers, x[0], v[0], None, run["timestep_fs"]
        )
        summary["speedup"] = summary["reference_wall_s_per_ps"] / summary["wall_s_per_ps"]
    return summary, curves
