"""MACE, the MLIP's peer in bench/mlip_vs_mace.py (optional: ``pip install -e '.[bench]'``).

Built and trained the way MACE's own training script does by default, on our configurations
and splits: ScaleShiftMACE with residual interaction blocks, per-element energies by least
squares, the mean and RMS-force scaling, AMSGrad Adam at lr 0.01, the loss
1·(ΔE/N)² + 100·|ΔF|², gradient-norm clipping at 10, ReduceLROnPlateau (factor 0.8, patience
50 epochs) on the validation loss, and the weights of the lowest validation loss kept. The only
change from its script is the stop: a budget of the process's CPU time, so both models get
the same compute even when the machine is shared.

:class:`MacePotential` puts a trained MACE in hopformer's potential registry, so relaxations,
NEB bands and MD run on it through the same code as on the MLIP (docs/design.md §12).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from ase import Atoms

from hopformer.physics.ase_engine import AseEngine
from hopformer.physics.potentials import register

# e3nn 0.4.4 (MACE's pin) loads its own constants with torch.load, whose default is
# weights_only since torch 2.6; they hold slice objects, so that one type is allowed.
torch.serialization.add_safe_globals([slice])
try:
    from e3nn import o3
    from mace import data as mace_data
    from mace import modules
    from mace.calculators import MACECalculator
    from mace.tools import AtomicNumberTable
    from mace.tools.torch_geometric import DataLoader
except ImportError as e:  # the bench extra is not installed
    raise SystemExit(
        f"bench/mlip_vs_mace.py needs MACE ({e}): pip install -e '.[bench]' (mace-torch)"
    ) from e


@dataclass(frozen=True)
class MaceConfig:
    channels: int = 32
    max_L: int = 1
    correlation: int = 3
    interactions: int = 2
    max_ell: int = 3
    r_max: float = 5.5
    batch_size: int = 4
    learning_rate: float = 0.01
    energy_weight: float = 1.0
    forces_weight: float = 100.0


def _atoms(c: dict) -> Atoms:
    periodic = c["cell"] is not None
    atoms = Atoms(numbers=c["numbers"], positions=c["positions"], cell=c["cell"], pbc=periodic)
    atoms.info["REF_energy"] = float(c["energy"])
    atoms.arrays["REF_forces"] = np.asarray(c["forces"], float)
    return atoms


def graphs(configs: list[dict], table: AtomicNumberTable, r_max: float) -> list:
    keys = mace_data.KeySpecification(
        info_keys={"energy": "REF_energy"}, arrays_keys={"forces": "REF_forces"}
    )
    return [
        mace_data.AtomicData.from_config(
            mace_data.config_from_atoms(_atoms(c), key_specification=keys),
            z_table=table,
            cutoff=r_max,
        )
        for c in configs
    ]


def build(train: list[dict], config: MaceConfig, seed: int) -> tuple[torch.nn.Module, dict]:
    """A fresh MACE for ``train``'s elements, its statistics from ``train`` (as MACE's script
    computes them); returns (model, the statistics)."""
    zs = sorted({int(z) for c in train for z in c["numbers"]})
    table = AtomicNumberTable(zs)
    counts = np.array([[np.sum(np.asarray(c["numbers"]) == z) for z in zs] for c in train], float)
    e0 = np.linalg.lstsq(counts, np.array([c["energy"] for c in train]), rcond=None)[0]
    loader = DataLoader(graphs(train, table, config.r_max), batch_size=config.batch_size)
    avg_neighbours = float(modules.compute_avg_num_neighbors(loader))
    mean, std = modules.scaling_classes["rms_forces_scaling"](loader, e0)
    torch.manual_seed(seed)
    block = modules.interaction_classes["RealAgnosticResidualInteractionBlock"]
    model = modules.ScaleShiftMACE(
        r_max=config.r_max,
        num_bessel=8,
        num_polynomial_cutoff=5,
        max_ell=config.max_ell,
        interaction_cls=block,
        interaction_cls_first=block,
        num_interactions=config.interactions,
        num_elements=len(zs),
        hidden_irreps=o3.Irreps(
            " + ".join(f"{config.channels}x{ell}{'eo'[ell % 2]}" for ell in range(config.max_L + 1))
        ),
        MLP_irreps=o3.Irreps("16x0e"),
        atomic_energies=e0,
        avg_num_neighbors=avg_neighbours,
        atomic_numbers=zs,
        correlation=config.correlation,
        gate=torch.nn.functional.silu,
        radial_MLP=[64, 64, 64],
        atomic_inter_scale=float(np.asarray(std).ravel()[0]),
        atomic_inter_shift=float(np.asarray(mean).ravel()[0]),
    )
    stats = {
        "elements": zs,
        "e0": e0.tolist(),
        "avg_num_neighbors": avg_neighbours,
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    return model.float(), stats


def predictions(model, items: list) -> list[tuple[float, np.ndarray]]:
    """(energy, forces) of each graph, one by one (as a calculator sees them)."""
    out = []
    for batch in DataLoader(items, batch_size=1):
        pred = model(batch.to_dict(), training=False, compute_force=True)
        out.append((float(pred["energy"].detach()[0]), pred["forces"].detach().numpy()))
    return out


def train(
    model,
    train_configs: list[dict],
    val_configs: list[dict],
    config: MaceConfig,
    budget_s: float,
    seed: int,
    snapshot_s: float | None = None,
    log=print,
) -> dict:
    """Train for ``budget_s`` seconds of this process's CPU time (see the module doc). Returns
    the history (one row per epoch, CPU and wall seconds), the best state, and, with
    ``snapshot_s``, the best state seen by then."""
    table = AtomicNumberTable(sorted({int(z) for c in train_configs for z in c["numbers"]}))
    train_items = graphs(train_configs, table, config.r_max)
    val_items = graphs(val_configs, table, config.r_max)
    generator = torch.Generator().manual_seed(seed)
    loader = DataLoader(
        train_items, batch_size=config.batch_size, shuffle=True, generator=generator
    )
    loss_fn = modules.WeightedEnergyForcesLoss(config.energy_weight, config.forces_weight)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate, amsgrad=True)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimiser, factor=0.8, patience=50)
    val_loader = DataLoader(val_items, batch_size=config.batch_size)
    best, best_state, snapshot, history = float("inf"), None, None, []
    start, wall, epoch, done = time.process_time(), time.perf_counter(), 0, False
    while not done:
        model.train()
        for batch in loader:
            optimiser.zero_grad()
            pred = model(batch.to_dict(), training=True, compute_force=True)
            loss_fn(batch, pred).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            optimiser.step()
            if time.process_time() - start > budget_s:
                done = True
                break
        epoch += 1
        model.eval()
        val = sum(
            float(loss_fn(b, model(b.to_dict(), training=False, compute_force=True)).detach())
            * b.num_graphs
            for b in val_loader
        ) / max(len(val_items), 1)
        plateau.step(val)
        elapsed = time.process_time() - start
        if val < best:
            best = val
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if snapshot_s is not None and snapshot is None and elapsed >= snapshot_s:
            snapshot = {
                "seconds": elapsed,
                "epoch": epoch,
                "state": best_state,
                "wall_seconds": time.perf_counter() - wall,
            }
        history.append(
            {
                "epoch": epoch,
                "seconds": elapsed,
                "wall_seconds": time.perf_counter() - wall,
                "val_loss": val,
            }
        )
        log(f"MACE epoch {epoch}: {elapsed:.0f} s, validation loss {val:.4g}")
    model.load_state_dict(best_state)
    return {"history": history, "snapshot": snapshot, "config": asdict(config)}


class MacePotential:
    """MACE models of this process as hopformer potentials: the spec is the path its weights
    were written to (the registry checks that the file exists)."""

    name = "MACE weights written by bench/mlip_vs_mace.py"

    def __init__(self):
        self.models: dict[str, torch.nn.Module] = {}

    def add(self, model, path: Path) -> str:
        path = path.with_suffix(".mace")  # *.pt is the MLIP's model file
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), path)
        self.models[str(path)] = model.eval()
        return str(path)

    def matches(self, spec: str) -> bool:
        return spec in self.models

    def check(self, spec: str) -> None:
        pass

    def calculator(self, spec: str):
        return MACECalculator(models=self.models[spec], device="cpu", default_dtype="float32")

    def engine(self, atoms, spec: str):
        return AseEngine(atoms, lambda: self.calculator(spec))


PEERS = MacePotential()
register(PEERS)
