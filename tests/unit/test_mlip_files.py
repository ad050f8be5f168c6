"""Old MLIP model files keep their meaning when a default changes: a file written before the
``attention`` key existed was trained with the softmax and loads as one, though the gated
sum is the default now (docs/design.md §12)."""

from __future__ import annotations

import numpy as np
import torch

from hopformer.ml.modelfile import save_model_file
from hopformer.mlip.calculator import load_network
from hopformer.mlip.model import MlipConfig, MlipNetwork, energy_forces


def test_a_model_file_without_the_attention_key_loads_as_the_softmax_it_was(pt55, tmp_path):
    assert MlipConfig().attention == "sigmoid"
    torch.manual_seed(1)
    soft = MlipNetwork(MlipConfig(cutoff=4.5, width=8, heads=2, attention="softmax")).double()
    with torch.no_grad():
        soft.scale.fill_(200.0)
    old = soft.config.to_dict()
    del old["attention"]  # as written before the key existed
    path = save_model_file(tmp_path / "old.pt", "mlip", old, soft)
    loaded = load_network(path)
    assert loaded.config.attention == "softmax"
    x = pt55.positions + np.random.default_rng(2).normal(scale=0.05, size=pt55.positions.shape)
    want = float(energy_forces(soft, x, pt55.numbers)["energy"].detach())
    assert float(energy_forces(loaded, x, pt55.numbers)["energy"].detach()) == want
    # read as today's default, the same weights would give another energy
    as_default = MlipNetwork(MlipConfig(**old)).double()
    as_default.load_state_dict(soft.state_dict())
    assert float(energy_forces(as_default, x, pt55.numbers)["energy"].detach()) != want
    assert MlipNetwork.load({"config": old, "state": soft.state_dict()}).config.attention == (
        "softmax"
    )
    gated = MlipNetwork(MlipConfig(cutoff=4.5, width=8, heads=2))
    path = save_model_file(tmp_path / "new.pt", "mlip", gated.config.to_dict(), gated)
    assert load_network(path).config.attention == "sigmoid"
