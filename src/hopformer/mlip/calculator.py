"""``HopformerPotential``: the MLIP as an ASE calculator (energy, forces, and the stress of a
periodic cell), usable anywhere the campaign uses a potential: :data:`POTENTIAL` registers
model files ``*.pt`` with :mod:`hopformer.physics.potentials` through the
``hopformer.potentials`` entry point."""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
import torch
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes

from hopformer.ml.modelfile import build_model, read_model_file
from hopformer.mlip.model import MlipConfig, MlipNetwork, energy_forces
from hopformer.physics.ase_engine import AseEngine
from hopformer.physics.engine import Engine

KIND = "mlip"
HOW = "train one with mlip.enabled: true, see config/campaigns/surrogates.yaml"


def load_network(path: str | os.PathLike, dtype: torch.dtype = torch.float64) -> MlipNetwork:
    """A trained network from its model file (:mod:`hopformer.ml.modelfile`), in eval mode."""
    blob = read_model_file(path, KIND, HOW)
    model = build_model(blob, path, lambda c: MlipNetwork(MlipConfig.from_saved(c)))
    return model.to(dtype).eval()


class HopformerPotential(Calculator):
    """ASE calculator of a trained MLIP; ``model`` is a network or a model file. Periodic
    atoms (all three directions) use their cell; others are a free cluster. float64 by default
    (MD and finite differences)."""

    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(
        self, model: MlipNetwork | str | os.PathLike, dtype: torch.dtype = torch.float64, **kwargs
    ):
        super().__init__(**kwargs)
        self.network = load_network(model, dtype) if not isinstance(model, MlipNetwork) else model

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        pbc = self.atoms.pbc
        if pbc.any() and not pbc.all():
            raise ValueError(f"HopformerPotential: periodic in all directions or none, got {pbc}")
        cell = self.atoms.cell.array if pbc.all() else None
        if not {"forces", "stress"} & set(properties):
            # the energy alone: no backward pass (a quarter of the cost on Pt55)
            out = energy_forces(
                self.network, self.atoms.positions, self.atoms.numbers, cell, forces=False
            )
            self.results["energy"] = self.results["free_energy"] = float(out["energy"])
            return
        want_stress = "stress" in properties and cell is not None
        out = energy_forces(
            self.network, self.atoms.positions, self.atoms.numbers, cell, stress=want_stress
        )
        energy = float(out["energy"].detach())
        self.results["energy"] = self.results["free_energy"] = energy
        self.results["forces"] = out["forces"].detach().cpu().numpy().astype(float)
        if want_stress:
            s = out["stress"].detach().cpu().numpy()
            self.results["stress"] = np.array(
                [s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[0, 2], s[0, 1]]
            )


def mlip_engine(spec: str, dtype: torch.dtype = torch.float64) -> Callable[[Atoms], Engine]:
    """Engines (atoms → engine) on the MLIP of model file ``spec`` in ``dtype``: the network is
    loaded once and every engine's calculators share it."""
    network = load_network(spec, dtype)
    return lambda atoms: AseEngine(atoms, lambda: HopformerPotential(network))


class ModelFilePotential:
    """The MLIP's entry in the potential registry: a path ending in ``.pt`` is a model file."""

    name = "hopformer MLIP model file *.pt"

    def matches(self, spec: str) -> bool:
        return spec.endswith(".pt")

    def check(self, spec: str) -> None:
        load_network(spec)

    def engine(self, atoms, spec: str) -> Engine:
        return mlip_engine(spec)(atoms)

    def calculator(self, spec: str) -> Calculator:
        return HopformerPotential(spec)


POTENTIAL = ModelFilePotential()
