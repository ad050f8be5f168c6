"""Training the transition transformer: seeded, checkpointed, resumable.

* **Data order and hints** of step ``s`` are a pure function of (seed, s): the epoch's
  permutation comes from (seed, epoch), the hint sizes from (seed, step). So a run resumed
  from a checkpoint draws exactly the batches the uninterrupted run would have drawn, and on
  the CPU (with a fixed thread count) reproduces its loss curve.
* **Hint sizes** follow the evaluation protocol (the top-k displaced atoms, DESIGN.md §6) with
  k = 0 in a ``zero_hint_fraction`` share of the examples and otherwise uniform over
  1, 2, 4, … N/2 — weighting k ≥ 1, where the model can beat relaxation alone.
* **Checkpoints** (model, optimiser, step, loss log, fingerprint) are written atomically
  every ``checkpoint_every`` steps. On start, a checkpoint whose fingerprint (model and training
  config, dataset files) matches is resumed; one from a different set-up is ignored, with a
  line in the log, so a config edit never continues a stale run.
* **Validation loss** is computed at every epoch end and at the last step, on the val split
  with hints of fixed, cycling sizes (seeded), so it is comparable across epochs.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from hopformer.model.examples import Example, example_batch, hint_sizes
from hopformer.model.network import ModelConfig, TransitionModel
from hopformer.physics.io import atomic_path, write_json_atomic, write_text_atomic

LOSS_COLUMNS = (
    "step",
    "epoch",
    "train_loss",
    "focus_ce",
    "nll_per_atom",
    "wta_per_atom",
    "val_loss",
)
# Streams of numpy's SeedSequence under the training seed (kept apart from each other).
EPOCH_STREAM, STEP_STREAM, VAL_STREAM = 1, 2, 3


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (config section ``training``)."""

    steps: int = 2000
    batch_size: int = 16
    learning_rate: float = 1e-3
    warmup_steps: int = 100
    zero_hint_fraction: float = 0.25
    checkpoint_every: int = 200
    grad_clip: float = 1.0
    seed: int = 0

    def __post_init__(self):
        for name in ("steps", "batch_size", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"training.{name} must be ≥ 1, got {getattr(self, name)}")
        if not 0.0 <= self.zero_hint_fraction <= 1.0:
            raise ValueError(
                f"training.zero_hint_fraction must be in [0, 1], got {self.zero_hint_fraction}"
            )


def rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *stream]))


def draw_hint_sizes(natoms: Sequence[int], generator: np.random.Generator,
                    zero_fraction: float) -> list[int]:  # fmt: skip
    ks = []
    for n in natoms:
        nonzero = hint_sizes(n)[1:]
        if not nonzero or generator.random() < zero_fraction:
            ks.append(0)
        else:
            ks.append(int(generator.choice(nonzero)))
    return ks


def fingerprint(model: ModelConfig, train: TrainConfig, data_ids: Sequence[str]) -> str:
    text = json.dumps([asdict(model), asdict(train), list(data_ids)], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def learning_rate(cfg: TrainConfig, step: int) -> float:
    """Linear warm-up, then cosine decay to 5 % at the last step."""
    if step < cfg.warmup_steps:
        return cfg.learning_rate * (step + 1) / cfg.warmup_steps
    t = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return cfg.learning_rate * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(t, 1.0))))


def new_model(config: ModelConfig, seed: int) -> TransitionModel:
    """A freshly initialised model; the seed fixes its weights (global RNG left untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return TransitionModel(config)


def validation_loss(
    model: TransitionModel,
    examples: Sequence[Example],
    seed: int,
    batch_size: int,
    zero_fraction: float,
    device: torch.device,
) -> float:
    if not examples:
        return float("nan")
    ks = draw_hint_sizes([ex.natoms for ex in examples], rng(seed, VAL_STREAM), zero_fraction)
    model.eval()
    total, n = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(examples), batch_size):
            chunk = examples[i : i + batch_size]
            batch, target = example_batch(chunk, ks[i : i + batch_size], model.config.max_atoms)
            loss, _ = model.loss(batch.to(device), target.to(device))
            total += float(loss) * len(chunk)
            n += len(chunk)
    model.train()
    return total / n


class ProgressBar:
    """A log-friendly progress bar: one line every ``every`` steps (no carriage returns)."""

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
        print(f"train [{'#' * filled}{'.' * (30 - filled)}] {done}/{self.total} "
              f"loss {loss:.4f}{val_text} {rate:.1f} steps/s eta {eta:.0f} s",
              file=self.stream, flush=True)  # fmt: skip


def _write_loss_log(path: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=LOSS_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(path, buf.getvalue())


def _save(obj: dict, path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def resume(last: Path, fp: str, model: torch.nn.Module, optimiser: torch.optim.Optimizer,
           device, log: Callable[[str], None]) -> tuple[int, list[dict]]:  # fmt: skip
    """(step, loss rows) to continue from checkpoint ``last`` — model and optimiser restored —
    when its fingerprint is ``fp``; (0, []) when there is none or it belongs to another run."""
    if not last.is_file():
        return 0, []
    ckpt = torch.load(last, map_location=device, weights_only=True)
    if ckpt.get("fingerprint") != fp:
        log(f"ignoring {last}: it belongs to a different model, training config or dataset")
        return 0, []
    model.load_state_dict(ckpt["model"])
    optimiser.load_state_dict(ckpt["optimiser"])
    log(f"resuming from {last} at step {int(ckpt['step'])}")
    return int(ckpt["step"]), list(ckpt["rows"])


def save_checkpoint(last: Path, fp: str, step: int, model: torch.nn.Module,
                    optimiser: torch.optim.Optimizer, rows: list[dict]) -> None:  # fmt: skip
    """Atomically write what :func:`resume` needs to continue after ``step`` steps."""
    _save({"fingerprint": fp, "step": step, "model": model.state_dict(),
           "optimiser": optimiser.state_dict(), "rows": rows}, last)  # fmt: skip


def train(
    train_examples: Sequence[Example],
    val_examples: Sequence[Example],
    model_config: ModelConfig,
    config: TrainConfig,
    out: str | os.PathLike,
    loss_log: str | os.PathLike,
    checkpoint_dir: str | os.PathLike,
    data_ids: Sequence[str] = (),
    device: str = "cpu",
    log: Callable[[str], None] = print,
) -> dict:
    """Train (or resume) and write the model file and the loss log; returns a summary."""
    if not train_examples:
        raise ValueError("the training split is empty: nothing to train on")
    out, loss_log, checkpoint_dir = Path(out), Path(loss_log), Path(checkpoint_dir)
    dev = torch.device(device)
    fp = fingerprint(model_config, config, data_ids)
    model = new_model(model_config, config.seed).to(dev)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=0.0)
    last = checkpoint_dir / "last.pt"
    step0, rows = resume(last, fp, model, optimiser, dev, log)
    n = len(train_examples)
    per_epoch = math.ceil(n / config.batch_size)
    bar = ProgressBar(config.steps, step0)
    order: np.ndarray | None = None
    model.train()
    t0 = time.perf_counter()
    for step in range(step0, config.steps):
        epoch, within = divmod(step, per_epoch)
        if order is None or within == 0:
            order = rng(config.seed, EPOCH_STREAM, epoch).permutation(n)
        idx = order[within * config.batch_size : (within + 1) * config.batch_size]
        chunk = [train_examples[i] for i in idx]
        ks = draw_hint_sizes([ex.natoms for ex in chunk], rng(config.seed, STEP_STREAM, step),
                             config.zero_hint_fraction)  # fmt: skip
        batch, target = example_batch(chunk, ks, model_config.max_atoms)
        for group in optimiser.param_groups:
            group["lr"] = learning_rate(config, step)
        loss, parts = model.loss(batch.to(dev), target.to(dev))
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimiser.step()
        val = None
        if within == per_epoch - 1 or step == config.steps - 1:
            val = validation_loss(model, val_examples, config.seed, config.batch_size,
                                  config.zero_hint_fraction, dev)  # fmt: skip
        rows.append({"step": step, "epoch": epoch, "train_loss": float(loss.detach()),
                     **parts,
                     "val_loss": "" if val is None else val})  # fmt: skip
        bar.update(step, float(loss.detach()), val)
        if (step + 1) % config.checkpoint_every == 0 or step == config.steps - 1:
            save_checkpoint(last, fp, step + 1, model, optimiser, rows)
            _write_loss_log(loss_log, rows)
    vals = [r["val_loss"] for r in rows if r["val_loss"] != ""]
    summary = {
        "completed": True,
        "steps": config.steps,
        "epochs": rows[-1]["epoch"] + 1,
        "train_examples": n,
        "val_examples": len(val_examples),
        "resumed_at_step": step0,
        "final_train_loss": rows[-1]["train_loss"],
        "final_val_loss": vals[-1] if vals else None,
        "best_val_loss": min(vals) if vals else None,
        "seconds_this_run": time.perf_counter() - t0,
        "device": str(dev),
        "threads": torch.get_num_threads(),
        "parameters": sum(p.numel() for p in model.parameters()),
        "fingerprint": fp,
    }
    save_model(model, out, summary)
    _write_loss_log(loss_log, rows)
    return summary


def save_model(model: TransitionModel, path: str | os.PathLike, summary: dict) -> None:
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    _save({"config": model.config.to_dict(), "model": state, "summary": summary}, Path(path))


def load_model(path: str | os.PathLike, device: str = "cpu") -> TransitionModel:
    """A trained model, in eval mode; a missing or foreign file is an error naming it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model {path}: no such file")
    try:
        blob = torch.load(path, map_location=device, weights_only=True)
        model = TransitionModel(ModelConfig(**blob["config"]))
        model.load_state_dict(blob["model"])
    except (KeyError, TypeError, RuntimeError, EOFError) as exc:
        raise ValueError(f"model {path}: not a hopformer transformer file ({exc})") from exc
    return model.to(device).eval()


def write_summary(path: str | os.PathLike, summary: dict) -> None:
    write_json_atomic(path, summary)
