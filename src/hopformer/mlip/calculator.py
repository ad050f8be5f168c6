"""``HopformerPotential``: the MLIP as an ASE calculator (energy, forces, and the stress of a
periodic cell), usable anywhere the campaign uses a potential (:mod:`hopformer.physics.
potentials` opens one for a model file)."""

from __future__ import annotations

import os

import numpy as np
import torch
from ase.calculators.calculator import Calculator, all_changes

from hopformer.mlip.model import MlipNetwork, energy_forces

#: how a model file is recognised where a potential is expected
MODEL_SUFFIX = ".pt"


def load_network(path: str | os.PathLike, dtype: torch.dtype = torch.float64) -> MlipNetwork:
    """A trained network from its model file (see :mod:`hopformer.mlip.training`)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"MLIP model {path}: no such file (train one with mlip.enabled: "
                                f"true, see config/campaigns/surrogates.yaml)")  # fmt: skip
    try:
        saved = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # a truncated or foreign file: say which
        raise ValueError(f"{path}: not a hopformer MLIP model file ({exc})") from exc
    if not isinstance(saved, dict) or saved.get("kind") != "hopformer-mlip":
        raise ValueError(f"{path}: not a hopformer MLIP model file (train one with "
                         f"'hopformer train-mlip')")  # fmt: skip
    model = MlipNetwork.load(saved).to(dtype)
    model.eval()
    return model


class HopformerPotential(Calculator):
    """ASE calculator of a trained MLIP; ``model`` is a network or a model file. Periodic
    atoms (all three directions) use their cell; others are a free cluster. float64 by default
    (MD and finite differences)."""

    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, model: MlipNetwork | str | os.PathLike, dtype: torch.dtype = torch.float64,
                 **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.network = load_network(model, dtype) if not isinstance(model, MlipNetwork) else model

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        pbc = self.atoms.pbc
        if pbc.any() and not pbc.all():
            raise ValueError(f"HopformerPotential: periodic in all directions or none, got {pbc}")
        cell = self.atoms.cell.array if pbc.all() else None
        want_stress = "stress" in properties and cell is not None
        out = energy_forces(self.network, self.atoms.positions, self.atoms.numbers, cell,
                            stress=want_stress)  # fmt: skip
        energy = float(out["energy"].detach())
        self.results["energy"] = self.results["free_energy"] = energy
        self.results["forces"] = out["forces"].detach().cpu().numpy().astype(float)
        if want_stress:
            s = out["stress"].detach().cpu().numpy()
            self.results["stress"] = np.array([s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[0, 2],
                                               s[0, 1]])  # fmt: skip
