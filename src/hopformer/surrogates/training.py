"""Training the trajectory surrogates on reference frames, and judging their rollouts against
the reference MD started from the same state.

* GNN displacement integrator (periodic bulk): a sample is a chain of ``unroll`` strides
  from frame t: the model steps from (x_t, v_t), is fed its own output, and each of its
  predictions is scored against the frame it reaches (positions by minimum image).
* Direct trajectory predictor (free cluster): the same with a step of Δt = k strides, for any k
  with k·stride ≤ horizon: inputs (x, v, Δt), targets (x_{t+mk}, v_{t+mk}), m = 1..unroll.

With ``unroll`` = 1 a sample is one frame pair. Longer chains let the model see, and learn to
undo, the errors its own predictions feed into the next (the unrolled loss; gradients run
through the whole chain). ``reverse`` adds every NVE chain read backwards with its velocities
flipped — another true trajectory, which asks the model for time-reversal symmetry.

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

from hopformer.ml.loop import Schedule, fingerprint, seeded_init
from hopformer.ml.loop import fit as fit_loop
from hopformer.ml.modelfile import build_model, read_model_file, save_model_file
from hopformer.physics.structure import neighbours
from hopformer.streams import SURROGATE_STEP, rng
from hopformer.surrogates.integrator import DisplacementIntegrator, IntegratorConfig
from hopformer.surrogates.predictor import PredictorConfig, TrajectoryPredictor

SURROGATES = {
    "integrator": (DisplacementIntegrator, IntegratorConfig),
    "predictor": (TrajectoryPredictor, PredictorConfig),
}
VELOCITY_WEIGHT = 100.0  # (Å/fs)⁻² against Å⁻²: thermal Δv ~ 0.02 Å/fs, Δx ~ 0.1 Å
#: Å/fs²: the scale of a metal atom's acceleration (0.5 eV/Å on Pt is 2.5e-5), the predictor's
#: loss unit
ACCELERATION = 1e-4
#: the predictor's learned potential energy: its error is scored in meV/atom, at this weight
ENERGY_WEIGHT = 0.1


@dataclass(frozen=True)
class SurrogateTraining:
    """Optimisation settings of a surrogate (config ``trajectory.integrator`` / ``.predictor``)."""

    steps: int = 300
    batch_size: int = 4
    learning_rate: float = 1e-3
    checkpoint_every: int = 100
    seed: int = 0
    device: str = "cpu"
    #: predictions chained per sample, each fed the previous one's output (1: single steps)
    unroll: int = 1
    #: also train on NVE chains read backwards, velocities flipped (time-reversal symmetry)
    reverse: bool = False
    #: predictor only: weigh each (ensemble, Δt) so that free flight would score alike at every
    #: Δt (:func:`step_weights`); otherwise long steps weigh almost nothing
    balance_steps: bool = False
    #: predictor only: the share of samples taken at the shortest Δt (the stride), the step
    #: chains are made of (:func:`share_stride`); 0 draws every Δt alike
    stride_share: float = 0.0
    #: integrator only: weight of the squared relative error of the kinetic energy after each
    #: stride (0: off); a counter to the drain a squared-error fit leaves (docs/design.md §13)
    kinetic_weight: float = 0.0

    def __post_init__(self):
        if self.kinetic_weight < 0:
            raise ValueError(
                f"surrogate training: kinetic_weight must be ≥ 0, got {self.kinetic_weight}"
            )
        if self.unroll < 1:
            raise ValueError(f"surrogate training: unroll must be ≥ 1, got {self.unroll}")
        if not 0 <= self.stride_share < 1:
            raise ValueError(
                f"surrogate training: stride_share must be in [0, 1), got {self.stride_share}"
            )


def fingerprinted(settings: SurrogateTraining) -> dict:
    """The training settings a checkpoint must match to be resumed. Options added later are
    left out at their default (0), so checkpoints written before they existed still resume."""
    key = asdict(settings)
    return {k: v for k, v in key.items() if v != 0 or k not in ("stride_share", "kinetic_weight")}


def frame_stride(run: dict, stride_fs: float) -> int:
    dt = float(run["time_fs"][1] - run["time_fs"][0])
    s = stride_fs / dt
    if abs(s - round(s)) > 1e-9 or round(s) < 1:
        raise ValueError(f"time step {stride_fs} fs is not a multiple of the frame spacing {dt} fs")
    return round(s)


def windows(run: dict, lag: int, unroll: int, reverse: bool) -> list[tuple[int, int]]:
    """(start frame, direction) of every chain of ``unroll`` steps of ``lag`` frames in ``run``;
    with ``reverse`` an NVE run's chains are also read backwards (direction −1)."""
    starts = range(len(run["time_fs"]) - unroll * lag)
    backwards = reverse and run.get("ensemble", "nve") == "nve"
    return [(t, d) for t in starts for d in ((1, -1) if backwards else (1,))]


def window_frames(run: dict, start: int, direction: int, lag: int, unroll: int):
    """Positions and velocities (unroll + 1, N, 3) of one chain; read backwards (direction −1)
    the frames run in reverse and every velocity flips (Newton's equations are time-reversible,
    so a reversed NVE trajectory is another true trajectory)."""
    idx = start + lag * np.arange(unroll + 1)
    if direction < 0:
        idx = idx[::-1]
    return run["positions"][idx], direction * run["velocities"][idx]


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


def _squared(pred_x, pred_v, x, v, cell=None, dt=None) -> torch.Tensor:
    """Mean squared position (minimum image under ``cell``) plus weighted velocity error; with
    a time step ``dt`` both as the accelerations they imply, position error / (Δt²/2) and
    velocity error / Δt, in units of :data:`ACCELERATION`."""
    d = pred_x - torch.as_tensor(x, device=pred_x.device)
    if cell is not None:
        frac = d @ torch.linalg.inv(cell)
        d = (frac - torch.round(frac)) @ cell
    dv = pred_v - torch.as_tensor(v, device=pred_v.device)
    if dt is None:
        return (d**2).mean() + VELOCITY_WEIGHT * (dv**2).mean()
    return (((d / (0.5 * dt * dt)) ** 2).mean() + ((dv / dt) ** 2).mean()) / ACCELERATION**2


def chain_loss(step, xs, vs, device, cell=None, dt=None, kinetic=None) -> torch.Tensor:
    """The loss of a chain: ``step(x, v)`` applied ``len(xs) − 1`` times from the first frame,
    its own output fed back in, each prediction scored against the reference frame it reaches
    (gradients flow through the whole chain, so the model learns from the errors its own
    earlier steps made), averaged over the chain. ``kinetic`` = (weight, masses) adds weight ×
    the squared relative error of the kinetic energy after each step."""
    x, v = (torch.as_tensor(a, device=device) for a in (xs[0], vs[0]))
    loss = 0.0
    for m in range(1, len(xs)):
        x, v = step(x, v)
        loss = loss + _squared(x, v, xs[m], vs[m], cell, dt)
        if kinetic is not None:
            weight, masses = kinetic
            true = (masses[:, None] * torch.as_tensor(vs[m], device=device) ** 2).sum()
            loss = loss + weight * ((masses[:, None] * v**2).sum() / true - 1) ** 2
    return loss / (len(xs) - 1)


def step_weights(runs: Sequence[dict], data: Sequence[tuple], probes: int = 64) -> dict:
    """The loss weight of each (ensemble, Δt) group of the predictor's samples ``data`` (run,
    start, direction, lag, Δt, chain length): the inverse of the loss free flight (x + Δt v, v
    unchanged) scores on up to ``probes`` of the group's chains, times that of the shortest Δt
    averaged over ensembles — so the shortest steps keep their weight and every Δt counts by
    how much of free flight's error the model leaves. Scored as accelerations, a 100 fs step of
    a Pt cluster weighs ~10² times less than a 10 fs one (docs/design.md §13)."""
    groups: dict[tuple, list] = {}
    for r, t, d, lag, dt, n in data:
        groups.setdefault((runs[r].get("ensemble", "nve"), dt), []).append((r, t, d, lag, dt, n))

    baseline = {}
    for key, members in groups.items():
        pick = np.linspace(0, len(members) - 1, min(probes, len(members))).round().astype(int)
        losses = []
        for r, t, d, lag, dt, n in (members[k] for k in pick):
            free_flight = lambda x, v, dt=dt: (x + dt * v, v)  # noqa: E731
            frames = window_frames(runs[r], t, d, lag, n)
            losses.append(float(chain_loss(free_flight, *frames, "cpu", dt=dt)))
        baseline[key] = float(np.mean(losses))
        if not baseline[key] > 0:
            raise ValueError(
                f"balance_steps: free flight is exact on the {key[0]} runs at Δt {key[1]:g} fs"
                " (no forces in the frames), so there is no error to weigh steps by"
            )
    shortest = min(dt for _, dt in baseline)
    ref = np.mean([b for (_, dt), b in baseline.items() if dt == shortest])
    return {key: ref / b for key, b in baseline.items()}


def share_stride(data: list, stride_fs: float, share: float) -> list:
    """The predictor's samples ``data`` (run, start, direction, lag, Δt, chain length) with
    those at Δt = ``stride_fs`` repeated so that they make about ``share`` of the whole (each
    at least once); ``share`` 0 leaves them as built, every Δt drawn alike."""
    short = [d for d in data if d[4] == stride_fs]
    rest = len(data) - len(short)
    if share == 0 or not short or not rest:
        return data
    repeats = max(1, round(share * rest / ((1.0 - share) * len(short))))
    return data + short * (repeats - 1)


def train(
    runs: Sequence[dict],
    config: IntegratorConfig,
    settings: SurrogateTraining,
    checkpoint_dir=None,
    loss_log=None,
    log: Callable[[str], None] = lambda m: None,
) -> tuple[DisplacementIntegrator, list[dict]]:
    """The integrator trained for ``settings.steps`` optimiser steps (resumable from
    ``checkpoint_dir``) on chains of ``settings.unroll`` strides."""
    device = settings.device
    model = seeded_init(settings.seed, lambda: DisplacementIntegrator(config)).double().to(device)
    unroll = settings.unroll
    data = []
    for r, run in enumerate(runs):
        s = frame_stride(run, config.stride_fs)
        data += [(r, t, d, s) for t, d in windows(run, s, unroll, settings.reverse)]

    def loss_of(n: int) -> torch.Tensor:
        r, t, d, s = data[n]
        run = runs[r]
        cell_np = run["cell"]
        cell = torch.as_tensor(cell_np, device=device)
        inv = torch.linalg.inv(cell)
        numbers = torch.as_tensor(run["numbers"], device=device)

        def step(x, v):
            i, j, shifts = neighbours(x.detach().cpu().numpy(), cell_np, config.cutoff)
            as_t = lambda a: torch.as_tensor(a, device=device)  # noqa: E731
            dx, dv = model(x, v, numbers, cell, as_t(i), as_t(j), as_t(shifts).to(x.dtype))
            nx = x + dx
            return nx - torch.floor(nx @ inv) @ cell, v + dv  # wrapped, as a rollout does

        weight = settings.kinetic_weight
        kinetic = (weight, model.masses[numbers]) if weight else None  # the model's own masses
        return chain_loss(step, *window_frames(run, t, d, s, unroll), device, cell, None, kinetic)

    fp = fingerprint("integrator", asdict(config), fingerprinted(settings), run_checksum(runs))
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
    """The direct predictor trained on chains of ``settings.unroll`` predictions of Δt =
    k·``stride_fs`` each, k·stride ≤ horizon, a chain no longer than the horizon (told each
    run's ensemble: it learns the mean of Langevin steps). Errors are scored as the mean
    accelerations they imply (:func:`_squared` with ``dt``): a position error grows as Δt², so
    scored in Å a 10 fs step — whose whole departure from free flight is ~0.1 pm — would weigh
    nothing beside a 100 fs one, and the chained short steps would not learn the forces.
    With ``conserve_energy`` the model also learns the frames' potential energy (its
    :meth:`~hopformer.surrogates.predictor.TrajectoryPredictor.energy`), which NVE chains hold
    constant with the kinetic energy."""
    device = settings.device
    model = seeded_init(settings.seed, lambda: TrajectoryPredictor(config)).double().to(device)
    if config.conserve_energy:  # energies are learned about the runs' mean per atom
        per_atom = [run["potential_energy"] / len(run["numbers"]) for run in runs]
        model.core.energy_offset.fill_(float(np.mean(np.concatenate(per_atom))))
    unroll = settings.unroll
    longest = int(config.horizon_fs / stride_fs + 1e-9)
    data = []
    for r, run in enumerate(runs):
        s = frame_stride(run, stride_fs)
        for k in range(1, longest + 1):
            # A chain spans at most the horizon: beyond it the dynamics has forgotten its
            # start, and the squared error would reward a chain that damps toward the mean.
            n = min(unroll, longest // k)
            data += [
                (r, t, d, k * s, k * stride_fs, n)
                for t, d in windows(run, k * s, n, settings.reverse)
            ]

    data = share_stride(data, stride_fs, settings.stride_share)
    weights = step_weights(runs, data) if settings.balance_steps else {}
    if weights:
        log(
            "step weights: " + ", ".join(f"{e} {dt:g} fs {w:.3g}" for (e, dt), w in weights.items())
        )

    def loss_of(n: int) -> torch.Tensor:
        r, t, d, lag, dt, unroll = data[n]
        run = runs[r]
        numbers = torch.as_tensor(run["numbers"], device=device)
        langevin = run.get("ensemble") == "langevin"
        weight = weights.get((run.get("ensemble", "nve"), dt), 1.0)

        def step(x, v):
            i, j, _ = neighbours(x.detach().cpu().numpy(), None, config.cutoff)
            as_t = lambda a: torch.as_tensor(a, device=device)  # noqa: E731
            return model(x, v, numbers, as_t(i), as_t(j), dt, langevin)

        frames = window_frames(run, t, d, lag, unroll)
        loss = weight * chain_loss(step, *frames, device, dt=dt)
        if config.conserve_energy:
            x = torch.as_tensor(run["positions"][t], device=device)
            i, j, _ = neighbours(run["positions"][t], None, config.cutoff)
            as_t = lambda a: torch.as_tensor(a, device=device)  # noqa: E731
            error = model.energy(x, numbers, as_t(i), as_t(j)) - run["potential_energy"][t]
            loss = loss + ENERGY_WEIGHT * (error / len(x) / 1e-3) ** 2
        return loss

    key = fingerprinted(settings)
    fp = fingerprint("predictor", asdict(config), stride_fs, key, run_checksum(runs))
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
