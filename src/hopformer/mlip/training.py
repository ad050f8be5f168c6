"""Training the MLIP on labelled configurations: energy + force loss, seeded, checkpointed and
resumable, with a validation split.

Loss per configuration, in units of the acceptance targets so that 1 means "at target":
``energy_weight · (ΔE / N / 1 meV)² + force_weight · mean (ΔF / 20 meV/Å)²``, with the energy
term multiplied by ``neb_energy_factor`` for NEB images: a converged band's images are nearly
relaxed (forces of a few meV/Å), so its barrier is in their energies, not their forces
(docs/results.md, "The barrier lives in the energies"). With ``band_weight`` > 0 each step
also draws ``band_images`` images of one training band and adds
``band_weight · mean ((r − r̄) / 20 meV)²`` over them, r the total-energy error of an image:
the error of the energy *differences* along the band, which a barrier is made of, whatever
offset the model has on that band (docs/design.md §12). Before the first
step the per-element reference energies are fitted to the training energies
(:meth:`~hopformer.mlip.model.MlipNetwork.fit_reference`).

The last ``final_fraction`` of the steps weigh the energies by ``final_energy_weight``
instead (MACE's second stage): the forces have been learned by then, and the learning rate
is low, so the energies are fitted without undoing them. The weights are averaged over the
steps (``average_decay``, :class:`~hopformer.ml.loop.Average`), and the model file holds the
average, which damps the step-to-step noise of that fit (docs/design.md §12).

A step's configurations run as one disjoint graph (:func:`batch`), so its cost is one
forward and one double-backward pass, not one per configuration.

Resuming: ``checkpoint_dir/last.pt`` holds the model, optimiser, step and loss rows every
``checkpoint_every`` steps; it is used when its fingerprint (model config, training config,
data checksum) matches, so a killed job continues where it stopped and ends with the same
weights as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch

from hopformer.ml.loop import Schedule, fingerprint, fit, seeded_init
from hopformer.ml.modelfile import save_model_file
from hopformer.mlip.model import MlipConfig, MlipNetwork
from hopformer.physics.structure import neighbours
from hopformer.streams import MLIP_BAND, MLIP_STEP, rng

KIND = "mlip"
LOSS_COLUMNS = (
    "step",
    "loss",
    "energy_mae_mev_atom",
    "force_mae_mev_a",
    "val_energy_mae_mev_atom",
    "val_force_mae_mev_a",
)
GRAD_CLIP = 100.0  # only a runaway gradient is clipped
E_UNIT = 1e-3  # eV per atom: the energy target
F_UNIT = 0.02  # eV/Å: the force target
B_UNIT = 0.02  # eV, per band (not per atom): the barrier target


@dataclass(frozen=True)
class MlipTrainConfig:
    steps: int = 2000
    batch_size: int = 4
    learning_rate: float = 2e-3
    energy_weight: float = 0.01
    force_weight: float = 1.0
    neb_energy_factor: float = 1.0
    band_weight: float = 1.0
    band_images: int = 4
    final_fraction: float = 0.2
    final_energy_weight: float = 0.5
    average_decay: float = 0.99
    checkpoint_every: int = 200
    eval_every: int = 200
    seed: int = 1
    float64: bool = False

    def __post_init__(self):
        for name in ("steps", "batch_size", "checkpoint_every", "eval_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"mlip training {name} must be ≥ 1, got {getattr(self, name)}")
        if self.band_images < 2:
            raise ValueError(f"mlip training band_images must be ≥ 2, got {self.band_images}")
        if not 0.0 <= self.final_fraction <= 1.0:
            raise ValueError(
                f"mlip training final_fraction must be in [0, 1], got {self.final_fraction}"
            )
        if not 0.0 <= self.average_decay < 1.0:
            raise ValueError(
                f"mlip training average_decay must be in [0, 1), got {self.average_decay}"
            )

    def at_step(self, step: int) -> MlipTrainConfig:
        """The loss weights of ``step``: the last ``final_fraction`` of the steps weigh the
        energies by ``final_energy_weight``."""
        if step >= self.steps - round(self.final_fraction * self.steps):
            return replace(self, energy_weight=self.final_energy_weight)
        return self


class Graphs:
    """Each configuration's tensors and neighbour list, built once (positions are fixed)."""

    def __init__(self, configs: Sequence[dict], cutoff: float, dtype, device):
        self.items = []
        for c in configs:
            i, j, s = neighbours(c["positions"], c["cell"], cutoff)
            t = lambda a: torch.as_tensor(a, dtype=dtype, device=device)  # noqa: E731
            offsets = t(s) @ t(c["cell"]) if c["cell"] is not None else t(np.zeros((len(i), 3)))
            self.items.append(
                (
                    t(c["positions"]),
                    torch.as_tensor(c["numbers"], device=device),
                    torch.as_tensor(i, device=device),
                    torch.as_tensor(j, device=device),
                    offsets,
                    float(c["energy"]),
                    t(c["forces"]),
                )
            )

    def __len__(self) -> int:
        return len(self.items)


def batch(items) -> tuple:
    """Configurations as one disjoint graph: (x, z, i, j, offsets, graph, atoms per
    configuration, energies, forces); edges are renumbered, so none crosses configurations."""
    sizes = [it[0].shape[0] for it in items]
    start = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    x0 = items[0][0]
    graph = torch.repeat_interleave(
        torch.arange(len(items), device=x0.device), torch.as_tensor(sizes, device=x0.device)
    )
    return (
        torch.cat([it[0] for it in items]),
        torch.cat([it[1] for it in items]),
        torch.cat([it[2] + int(s0) for it, s0 in zip(items, start, strict=True)]),
        torch.cat([it[3] + int(s0) for it, s0 in zip(items, start, strict=True)]),
        torch.cat([it[4] for it in items]),
        graph,
        torch.as_tensor(sizes, dtype=x0.dtype, device=x0.device),
        torch.as_tensor([it[5] for it in items], dtype=x0.dtype, device=x0.device),
        torch.cat([it[6] for it in items]),
    )


def energies(model: MlipNetwork, b, x: torch.Tensor | None = None) -> torch.Tensor:
    """Energies (configurations,) of a :func:`batch`, one forward pass for all of them (at
    positions ``x`` when given, else the batch's own)."""
    x0, z, i, j, offsets, graph, sizes = b[:7]
    return model(x0 if x is None else x, z, i, j, offsets, graph=graph, n_graphs=len(sizes))


def predict(model: MlipNetwork, b, create_graph: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Energies (configurations,) and forces (atoms, 3) of a :func:`batch`: one forward and
    one backward pass for all of them (the configurations do not interact)."""
    x = b[0].detach().requires_grad_(True)
    e = energies(model, b, x)
    (g,) = torch.autograd.grad(e.sum(), x, create_graph=create_graph)
    return e, -g


def loss_terms(
    model: MlipNetwork,
    b,
    config: MlipTrainConfig,
    create_graph: bool = True,
    energy_factors: torch.Tensor | None = None,
) -> tuple[torch.Tensor, float, float]:
    """(loss, mean |ΔE|/N in eV, mean |ΔF| in eV/Å) of a :func:`batch`, each the mean over
    its configurations of that configuration's own figure; ``energy_factors`` (one per
    configuration) multiply the energy terms when given."""
    e, f = predict(model, b, create_graph)
    graph, sizes, e_ref, f_ref = b[5], b[6], b[7], b[8]
    de = (e - e_ref) / sizes
    df = f - f_ref
    per_config = lambda v: v.new_zeros(len(sizes)).index_add(0, graph, v) / (3 * sizes)  # noqa: E731
    energy = config.energy_weight * (de / E_UNIT) ** 2
    if energy_factors is not None:
        energy = energy * energy_factors
    loss = energy + config.force_weight * per_config(((df / F_UNIT) ** 2).sum(-1))
    f_abs = per_config(df.detach().abs().sum(-1))
    return loss.mean(), float(de.detach().abs().mean()), float(f_abs.mean())


def band_term(model: MlipNetwork, b) -> torch.Tensor:
    """mean ((r − r̄) / B_UNIT)² over the configurations of a :func:`batch` (images of one
    band), r each one's total-energy error: zero for any constant offset, so it scores only
    the energy differences between the images. Energies only: no force pass."""
    r = energies(model, b) - b[7]
    return (((r - r.mean()) / B_UNIT) ** 2).mean()


def neb_bands(configs: Sequence[dict]) -> list[list[int]]:
    """Indices of each NEB band's images in ``configs`` (bands of ≥ 2 images, by group, else
    by the config id's prefix: ``neb-<transition>/<image>``)."""
    bands: dict[str, list[int]] = {}
    for k, c in enumerate(configs):
        if c.get("source") == "neb":
            group = c.get("group") or c["config_id"].rsplit("/", 1)[0]
            bands.setdefault(group, []).append(k)
    return [v for _, v in sorted(bands.items()) if len(v) >= 2]


def metrics(model: MlipNetwork, graphs: Graphs, chunk: int = 8) -> dict:
    """Energy MAE/RMSE (meV/atom) and force MAE/RMSE (meV/Å, per component)."""
    pairs = []
    for k in range(0, len(graphs), chunk):
        items = graphs.items[k : k + chunk]
        e, f = predict(model, batch(items), False)
        e, f = e.detach().cpu().numpy(), f.detach().cpu().numpy()
        at = 0
        for e_k, item in zip(e, items, strict=True):
            n = item[0].shape[0]
            pairs.append((float(e_k), f[at : at + n], item[5], item[6].cpu().numpy()))
            at += n
    return error_metrics(pairs)


def error_metrics(pairs) -> dict:
    """:func:`metrics` of (predicted energy, predicted forces, reference energy, reference
    forces) per configuration, whichever model predicted them (the MACE peer's too)."""
    if not pairs:
        return {"configurations": 0}
    de = np.array([(e - e_ref) / len(f_ref) for e, _, e_ref, f_ref in pairs])
    df = np.concatenate([(np.asarray(f) - f_ref).ravel() for _, f, _, f_ref in pairs])
    return {
        "configurations": len(de),
        "energy_mae_mev_atom": float(np.abs(de).mean() * 1e3),
        "energy_rmse_mev_atom": float(np.sqrt((de**2).mean()) * 1e3),
        "force_mae_mev_a": float(np.abs(df).mean() * 1e3),
        "force_rmse_mev_a": float(np.sqrt((df**2).mean()) * 1e3),
    }


def data_checksum(configs: Sequence[dict]) -> str:
    h = hashlib.sha256()
    for c in configs:
        h.update(c["config_id"].encode())
        h.update(np.ascontiguousarray(c["positions"]).tobytes())
        h.update(np.float64(c["energy"]).tobytes())
    return h.hexdigest()


def new_network(config: MlipConfig, train: MlipTrainConfig, configs: Sequence[dict]) -> MlipNetwork:
    model = seeded_init(train.seed, lambda: MlipNetwork(config))
    model.fit_reference([c["numbers"] for c in configs], np.array([c["energy"] for c in configs]))
    return model.double() if train.float64 else model


def train(
    train_configs: Sequence[dict],
    val_configs: Sequence[dict],
    model_config: MlipConfig,
    config: MlipTrainConfig,
    out: str | os.PathLike,
    loss_log: str | os.PathLike,
    checkpoint_dir: str | os.PathLike,
    device: str = "cpu",
    log: Callable[[str], None] = print,
) -> dict:
    """Train (or resume) and write the model file and the loss log; returns the summary."""
    if not train_configs:
        raise ValueError("mlip: the training split is empty")
    dev = torch.device(device)
    fp = fingerprint(asdict(model_config), asdict(config), data_checksum(train_configs))
    model = new_network(model_config, config, train_configs).to(dev)
    dtype = next(model.parameters()).dtype
    train_graphs = Graphs(train_configs, model_config.cutoff, dtype, dev)
    val_graphs = Graphs(val_configs, model_config.cutoff, dtype, dev)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    energy_factors = torch.as_tensor(
        [config.neb_energy_factor if c.get("source") == "neb" else 1.0 for c in train_configs],
        dtype=dtype,
        device=dev,
    )
    bands = neb_bands(train_configs) if config.band_weight > 0 else []

    def step_loss(step: int) -> tuple[float, dict]:
        size = min(config.batch_size, len(train_graphs))
        pick = rng(config.seed, MLIP_STEP, step).choice(len(train_graphs), size, replace=False)
        b = batch([train_graphs.items[k] for k in pick])
        loss, de, df = loss_terms(
            model, b, config.at_step(step), energy_factors=energy_factors[torch.as_tensor(pick)]
        )
        if bands:
            draw = rng(config.seed, MLIP_BAND, step)
            images = bands[draw.integers(len(bands))]
            chosen = draw.choice(images, min(config.band_images, len(images)), replace=False)
            band = batch([train_graphs.items[k] for k in chosen])
            loss = loss + config.band_weight * band_term(model, band)
        loss.backward()
        total = float(loss.detach())
        return total, {"loss": total, "energy_mae_mev_atom": de * 1e3, "force_mae_mev_a": df * 1e3}

    def evaluate(step: int) -> dict:
        if len(val_graphs) and ((step + 1) % config.eval_every == 0 or step == config.steps - 1):
            m = metrics(model, val_graphs)
            return {
                "val_energy_mae_mev_atom": m["energy_mae_mev_atom"],
                "val_force_mae_mev_a": m["force_mae_mev_a"],
            }
        return {}

    schedule = Schedule(
        config.steps,
        config.learning_rate,
        0,
        config.checkpoint_every,
        GRAD_CLIP,
        average_decay=config.average_decay,
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
        progress="val_force_mae_mev_a",
        device=dev,
        log=log,
    )
    summary = {
        "steps": config.steps,
        "resumed_at_step": step0,
        "train_configurations": len(train_graphs),
        "val_configurations": len(val_graphs),
        "final_loss": rows[-1]["loss"],
        "val": metrics(model, val_graphs),
        "seconds_this_run": time.perf_counter() - t0,
        "device": str(dev),
        "parameters": sum(p.numel() for p in model.parameters()),
        "fingerprint": fp,
    }
    save_model_file(out, KIND, model.config.to_dict(), model, summary)
    return summary
