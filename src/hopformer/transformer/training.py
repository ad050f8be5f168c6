"""Training the transition transformer: seeded, checkpointed, resumable.

* **Data order and hints** of step ``s`` are a pure function of (seed, s): the epoch's
  permutation comes from (seed, epoch), the hint sizes from (seed, step). So a run resumed
  from a checkpoint draws exactly the batches the uninterrupted run would have drawn, and on
  the CPU (with a fixed thread count) reproduces its loss curve.
* **Hint sizes** follow the evaluation protocol (the top-k displaced atoms, docs/design.md §6) with
  k = 0 in a ``zero_hint_fraction`` share of the examples and otherwise uniform over
  1, 2, 4, … N/2 — weighting k ≥ 1, where the model can beat relaxation alone.
* **Checkpoints and resume** are the shared loop's (:mod:`hopformer.ml.loop`): the
  fingerprint is the model and training config and the dataset files' checksums, so a config
  edit never continues a stale run.
* **Validation loss** is computed at every epoch end and at the last step, on the val split
  with hints of fixed, cycling sizes (seeded), so it is comparable across epochs.
* **Move calibration** after the last step: :func:`calibrate_moves` sets the model's
  ``move_scale`` from the val split (docs/design.md §6), deterministically, so a resumed or
  repeated training writes the same model file.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch

from hopformer.ml.loop import Schedule, fingerprint, fit, seeded_init
from hopformer.ml.modelfile import build_model, read_model_file, save_model_file
from hopformer.streams import TRAIN_EPOCH, TRAIN_STEP, TRAIN_VAL, rng
from hopformer.transformer.examples import Example, example_batch, hint_sizes, top_k_atoms
from hopformer.transformer.network import SCALE_BUCKETS, ModelConfig, TransitionModel

KIND = "transformer"
LOSS_COLUMNS = (
    "step",
    "epoch",
    "train_loss",
    "focus_ce",
    "nll_per_atom",
    "wta_per_atom",
    "val_loss",
)


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


def draw_hint_sizes(
    natoms: Sequence[int], generator: np.random.Generator, zero_fraction: float
) -> list[int]:
    ks = []
    for n in natoms:
        nonzero = hint_sizes(n)[1:]
        if not nonzero or generator.random() < zero_fraction:
            ks.append(0)
        else:
            ks.append(int(generator.choice(nonzero)))
    return ks


def new_model(config: ModelConfig, seed: int) -> TransitionModel:
    """A freshly initialised model; the seed fixes its weights (global RNG left untouched)."""
    return seeded_init(seed, lambda: TransitionModel(config))


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
    ks = draw_hint_sizes([ex.natoms for ex in examples], rng(seed, TRAIN_VAL), zero_fraction)
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


#: Validation transitions the move calibration reads at most (the split's first ones).
CALIBRATION_EXAMPLES = 512
#: Bounds of a calibrated factor: a split too small to trust cannot make moves absurd.
SCALE_RANGE = (0.5, 4.0)


def calibrate_moves(
    model: TransitionModel,
    examples: Sequence[Example],
    batch_size: int = 16,
    device: torch.device | str = "cpu",
) -> list[float]:
    """Set ``model.move_scale`` so that, per hint-size bucket, the mode candidate's free
    atoms move as far as the true transition's: the factor is 1 / median over ``examples`` of
    ‖mode move‖ / ‖true move‖ (free atoms, hint k = 0, 1, 2, 4, … of each example, the
    protocol's top-k hints), within :data:`SCALE_RANGE`. A bucket without examples takes the
    factor of the nearest smaller k (1 when there is none); with no examples at all the
    factors stay as they are (a fine-tuning keeps its start's). Returns the factors."""
    model.eval()
    examples = list(examples)[:CALIBRATION_EXAMPLES]
    if not examples:
        return model.move_scale.tolist()
    model.move_scale.fill_(1.0)
    ratios: list[list[float]] = [[] for _ in range(SCALE_BUCKETS)]
    with torch.no_grad():
        for bucket, k in enumerate([0] + [2**b for b in range(SCALE_BUCKETS - 1)]):
            chunk = [ex for ex in examples if k <= hint_sizes(ex.natoms)[-1]]
            for i in range(0, len(chunk), batch_size):
                part = chunk[i : i + batch_size]
                batch, target = example_batch(part, [k] * len(part), model.config.max_atoms)
                cand = model.sample(batch.to(device), mode=True)[:, 0].cpu()
                for j, ex in enumerate(part):
                    free = np.ones(ex.natoms, dtype=bool)
                    free[top_k_atoms(ex, k)] = False
                    x0 = batch.positions[j, : ex.natoms][free]
                    true = float((target[j, : ex.natoms][free] - x0).norm())
                    made = float((cand[j, : ex.natoms][free] - x0).norm())
                    if true > 1e-6:
                        ratios[bucket].append(made / true)
    scales, last = [], 1.0
    for r in ratios:
        if r:
            last = float(np.clip(1.0 / max(np.median(r), 1e-9), *SCALE_RANGE))
        scales.append(last)
    model.move_scale.copy_(torch.tensor(scales))
    return scales


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
    init: TransitionModel | None = None,
) -> dict:
    """Train (or resume) and write the model file and the loss log; returns a summary.
    ``init`` fine-tunes: training starts from its weights (its config must be
    ``model_config``; name its file among ``data_ids`` so that resuming knows it)."""
    if not train_examples:
        raise ValueError("the training split is empty: nothing to train on")
    dev = torch.device(device)
    fp = fingerprint(asdict(model_config), asdict(config), list(data_ids))
    model = new_model(model_config, config.seed)
    if init is not None:
        model.load_state_dict(init.state_dict())
    model = model.to(dev)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=0.0)
    n = len(train_examples)
    per_epoch = math.ceil(n / config.batch_size)
    orders: dict[int, np.ndarray] = {}

    def step_loss(step: int) -> tuple[float, dict]:
        epoch, within = divmod(step, per_epoch)
        if epoch not in orders:
            orders.clear()
            orders[epoch] = rng(config.seed, TRAIN_EPOCH, epoch).permutation(n)
        idx = orders[epoch][within * config.batch_size : (within + 1) * config.batch_size]
        chunk = [train_examples[i] for i in idx]
        ks = draw_hint_sizes(
            [ex.natoms for ex in chunk],
            rng(config.seed, TRAIN_STEP, step),
            config.zero_hint_fraction,
        )
        batch, target = example_batch(chunk, ks, model_config.max_atoms)
        loss, parts = model.loss(batch.to(dev), target.to(dev))
        loss.backward()
        return float(loss.detach()), {"epoch": epoch, "train_loss": float(loss.detach()), **parts}

    def evaluate(step: int) -> dict:
        if step % per_epoch == per_epoch - 1 or step == config.steps - 1:
            return {
                "val_loss": validation_loss(
                    model,
                    val_examples,
                    config.seed,
                    config.batch_size,
                    config.zero_hint_fraction,
                    dev,
                )
            }
        return {}

    schedule = Schedule(
        config.steps,
        config.learning_rate,
        config.warmup_steps,
        config.checkpoint_every,
        config.grad_clip,
    )
    t0 = time.perf_counter()
    step0, rows = fit(
        model,
        optimiser,
        schedule,
        step_loss,
        fp=fp,
        checkpoint_dir=checkpoint_dir,
        loss_log=loss_log,
        columns=LOSS_COLUMNS,
        evaluate=evaluate,
        progress="val_loss",
        device=dev,
        log=log,
    )
    scales = calibrate_moves(model, val_examples, config.batch_size, dev)
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
        "move_scale": scales,
    }
    save_model_file(out, KIND, model.config.to_dict(), model, summary)
    return summary


def load_model(path: str | os.PathLike, device: str = "cpu") -> TransitionModel:
    """A trained model, in eval mode; a missing or foreign file is an error naming it."""
    blob = read_model_file(path, KIND, "train one with 'hopformer train-transformer'")
    model = build_model(blob, path, lambda c: TransitionModel(ModelConfig(**c)))
    return model.to(device).eval()
