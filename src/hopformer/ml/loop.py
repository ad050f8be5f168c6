"""The one training loop of hopformer's models (transformer, MLIP, both trajectory surrogates).

A model supplies ``step_loss(step)``: it draws its batch from a stream seeded by (seed, step)
— so a step's batch never depends on the steps before it — computes the loss, calls
``backward()`` and returns the step's loss and its log columns. The loop owns the rest:

* the **schedule**: linear warm-up over ``warmup_steps``, then cosine decay to 5 % of the peak
  at the last step;
* gradient clipping (optional), the optimiser step, a seeded evaluation hook;
* an optional **moving average** of the weights (``average_decay`` > 0): updated after every
  optimiser step with the decay min(d, (1 + s)/(10 + s)) at step s, so the random initial
  weights are forgotten within the first tens of steps. The evaluation hook sees the averaged
  weights, and the trained model ends with them; the checkpoint keeps both, so a resumed run
  averages on exactly as an uninterrupted one;
* **checkpoints** (model, optimiser, step, loss rows, fingerprint) written atomically every
  ``checkpoint_every`` steps and at the end. On start, a checkpoint whose fingerprint
  (model config, training config but its ``steps``, data) matches is resumed, so a killed job
  ends with the weights an uninterrupted one would have, and a training given more steps
  continues from where it stopped (the cosine schedule then follows the new length). A
  checkpoint that cannot be read, belongs to another set-up or ran past the steps asked for
  is set aside — renamed beside it, named in the log — never used and never overwritten;
* the **loss log** (CSV, one row per step) and a log-friendly progress bar.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from hopformer.physics.io import atomic_path, write_text_atomic


@dataclass(frozen=True)
class Schedule:
    """How long and how fast: the part of a training config the loop itself reads."""

    steps: int
    learning_rate: float
    warmup_steps: int = 0
    checkpoint_every: int = 200
    grad_clip: float | None = None
    average_decay: float = 0.0

    def __post_init__(self):
        for name in ("steps", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be ≥ 1, got {getattr(self, name)}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if not 0.0 <= self.average_decay < 1.0:
            raise ValueError(f"average decay must be in [0, 1), got {self.average_decay}")

    def rate(self, step: int) -> float:
        """Linear warm-up, then cosine decay to 5 % at the last step."""
        if step < self.warmup_steps:
            return self.learning_rate * (step + 1) / self.warmup_steps
        t = (step - self.warmup_steps) / max(1, self.steps - self.warmup_steps)
        return self.learning_rate * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(t, 1.0))))


class Average:
    """The exponential moving average of a model's parameters (buffers are the model's own).
    :meth:`swap` exchanges the averaged and the current weights in place, so the same module
    evaluates either without a copy of the model."""

    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = decay
        self.weights = [p.detach().clone() for p in model.parameters()]

    def update(self, model: torch.nn.Module, step: int) -> None:
        d = min(self.decay, (1.0 + step) / (10.0 + step))
        with torch.no_grad():
            for a, p in zip(self.weights, model.parameters(), strict=True):
                a.lerp_(p.detach(), 1.0 - d)

    def swap(self, model: torch.nn.Module) -> None:
        with torch.no_grad():
            for k, p in enumerate(model.parameters()):
                p.data, self.weights[k] = self.weights[k], p.data


def fingerprint(*parts) -> str:
    """A short hash of JSON-able ``parts`` (configs, data checksums): what a checkpoint must
    match to be resumed. A ``steps`` key of a config is left out: more steps extend a run."""
    parts = [
        {k: v for k, v in p.items() if k != "steps"} if isinstance(p, dict) else p for p in parts
    ]
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def seeded_init(seed: int, make: Callable[[], torch.nn.Module]) -> torch.nn.Module:
    """``make()`` with torch's generator seeded by ``seed``; the global RNG is left untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return make()


class ProgressBar:
    """A log-friendly progress bar: one line every ``total / lines`` steps (no carriage
    returns, so it reads well in a job's log file)."""

    def __init__(self, total: int, start: int, stream=sys.stderr, lines: int = 40):
        self.total, self.start, self.stream = total, start, stream
        self.every = max(1, total // lines)
        self.t0 = time.perf_counter()

    def update(self, step: int, loss: float, val: float | None = None) -> None:
        done = step + 1
        if done % self.every and done != self.total:
            return
        rate = (done - self.start) / max(time.perf_counter() - self.t0, 1e-9)
        eta = (self.total - done) / rate if rate > 0 else float("inf")
        filled = int(30 * done / self.total)
        val_text = f" val {val:.4f}" if val is not None and not math.isnan(val) else ""
        print(
            f"train [{'#' * filled}{'.' * (30 - filled)}] {done}/{self.total} "
            f"loss {loss:.4f}{val_text} {rate:.1f} steps/s eta {eta:.0f} s",
            file=self.stream,
            flush=True,
        )


def write_loss_log(path: str | Path, rows: list[dict], columns: Sequence[str]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(path, buf.getvalue())


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def set_aside(path: Path, why: str, log: Callable[[str], None]) -> Path:
    """Rename checkpoint ``path`` to a free ``<name>.set-aside-<k>`` beside it and log why."""
    k = 1
    while (aside := path.with_name(f"{path.name}.set-aside-{k}")).exists():
        k += 1
    path.rename(aside)
    log(f"set aside {path} as {aside.name}: {why}; training starts from step 0")
    return aside


def resume(
    last: Path,
    fp: str,
    model: torch.nn.Module,
    optimiser: torch.optim.Optimizer,
    device,
    log: Callable[[str], None],
    steps: int | None = None,
    average: Average | None = None,
) -> tuple[int, list[dict]]:
    """(step, loss rows) to continue from checkpoint ``last`` — model, optimiser and
    ``average`` restored —
    when its fingerprint is ``fp`` and it stopped at or before ``steps``; otherwise (0, [])
    with the checkpoint set aside (:func:`set_aside`)."""
    if not last.is_file():
        return 0, []
    try:
        ckpt = torch.load(last, map_location=device, weights_only=True)
        step, rows = int(ckpt["step"]), list(ckpt["rows"])
    except Exception as exc:  # truncated, corrupt, foreign or unsafe: never used
        set_aside(last, f"not a readable checkpoint ({_first_line(exc)})", log)
        return 0, []
    if ckpt.get("fingerprint") != fp:
        set_aside(last, "it belongs to a different model, training config or dataset", log)
        return 0, []
    if steps is not None and step > steps:
        set_aside(last, f"it ran {step} steps, more than the {steps} asked for", log)
        return 0, []
    before = copy.deepcopy(model.state_dict())
    try:
        model.load_state_dict(ckpt["model"])
        optimiser.load_state_dict(ckpt["optimiser"])
        if average is not None:
            saved = ckpt["average"]
            if [a.shape for a in saved] != [a.shape for a in average.weights]:
                raise ValueError("the averaged weights do not fit the model")
            average.weights = [a.to(device) for a in saved]
    except Exception as exc:
        model.load_state_dict(before)  # a failed load may have copied part of the weights
        set_aside(last, f"its weights do not fit the model ({_first_line(exc)})", log)
        return 0, []
    log(f"resuming from {last} at step {step}")
    return step, rows


def save_checkpoint(
    last: Path,
    fp: str,
    step: int,
    model: torch.nn.Module,
    optimiser: torch.optim.Optimizer,
    rows: list[dict],
    average: Average | None = None,
) -> None:
    """Atomically write what :func:`resume` needs to continue after ``step`` steps."""
    blob = {
        "fingerprint": fp,
        "step": step,
        "model": model.state_dict(),
        "optimiser": optimiser.state_dict(),
        "rows": rows,
    }
    if average is not None:
        blob["average"] = average.weights
    with atomic_path(last) as tmp:
        torch.save(blob, tmp)


def fit(
    model: torch.nn.Module,
    optimiser: torch.optim.Optimizer,
    schedule: Schedule,
    step_loss: Callable[[int], tuple[float, dict]],
    *,
    fp: str,
    checkpoint_dir: str | Path | None,
    loss_log: str | Path | None,
    columns: Sequence[str],
    evaluate: Callable[[int], dict] | None = None,
    progress: str | None = None,
    device: str | torch.device = "cpu",
    log: Callable[[str], None] = print,
) -> tuple[int, list[dict]]:
    """Train ``model`` for ``schedule.steps`` (resuming from ``checkpoint_dir/last.pt`` when
    it matches ``fp``); returns (the step it resumed at, the loss rows of every step).

    Each row is ``{"step": s, **step_loss(s)[1], **evaluate(s)}`` restricted to ``columns``;
    ``progress`` names the evaluate column the progress bar shows beside the loss. With
    ``schedule.average_decay`` the model ends with the averaged weights."""
    last = Path(checkpoint_dir) / "last.pt" if checkpoint_dir is not None else None
    average = Average(model, schedule.average_decay) if schedule.average_decay else None
    step0, rows = (
        resume(last, fp, model, optimiser, device, log, schedule.steps, average)
        if last
        else (0, [])
    )
    bar = ProgressBar(schedule.steps, step0)
    model.train()
    for step in range(step0, schedule.steps):
        for group in optimiser.param_groups:
            group["lr"] = schedule.rate(step)
        optimiser.zero_grad(set_to_none=True)
        loss, parts = step_loss(step)
        if schedule.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), schedule.grad_clip)
        optimiser.step()
        if average is not None:
            average.update(model, step)
            average.swap(model)  # the hook judges the averaged weights
        extra = evaluate(step) if evaluate is not None else {}
        if average is not None:
            average.swap(model)
        row = {c: "" for c in columns} | {"step": step, **parts, **extra}
        rows.append({c: row[c] for c in columns})
        shown = extra.get(progress) if progress else None
        bar.update(step, loss, shown if shown != "" else None)
        if (step + 1) % schedule.checkpoint_every == 0 or step == schedule.steps - 1:
            if last is not None:
                save_checkpoint(last, fp, step + 1, model, optimiser, rows, average)
            if loss_log is not None:
                write_loss_log(loss_log, rows, columns)
    if loss_log is not None and step0 >= schedule.steps:  # resumed a finished run: no step wrote it
        write_loss_log(loss_log, rows, columns)
    if average is not None:
        average.swap(model)  # the trained model is the average
    return step0, rows
