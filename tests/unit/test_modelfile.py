"""Every model file is user input: one format, read with weights_only=True, so a pickle payload
in any of them is refused without running, with the file's name."""

from __future__ import annotations

import pytest
import torch

from hopformer.ml.modelfile import ModelFileError, read_model_file, save_model_file
from hopformer.mlip.calculator import HopformerPotential, load_network
from hopformer.mlip.model import MlipConfig, MlipNetwork
from hopformer.physics.potentials import open_engine
from hopformer.reference.cluster import make_potential
from hopformer.surrogates.integrator import DisplacementIntegrator, IntegratorConfig
from hopformer.surrogates.predictor import PredictorConfig, TrajectoryPredictor
from hopformer.surrogates.training import load_surrogate, save_surrogate
from hopformer.transformer.network import ModelConfig
from hopformer.transformer.training import load_model, new_model


class Payload:
    """Unpickling this runs ``open(marker, "w")``: the attack a crafted model file carries."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _crafted(tmp_path, name="evil.pt"):
    path, marker = tmp_path / name, tmp_path / "pwned"
    torch.save(
        {
            "format": "hopformer-model/1",
            "kind": "transformer",
            "config": Payload(marker),
            "weights": {},
            "summary": {},
        },
        path,
    )
    return path, marker


LOADERS = {
    "transformer": lambda p: load_model(p),
    "mlip": lambda p: load_network(p),
    "mlip calculator": lambda p: HopformerPotential(p),
    "integrator": lambda p: load_surrogate(p, "integrator"),
    "predictor": lambda p: load_surrogate(p, "predictor"),
    "potential.source": lambda p: make_potential(p.parent / "out" / "potential.mlip.pt", str(p)),
}


@pytest.mark.parametrize("loader", LOADERS, ids=str)
def test_a_pickle_payload_is_refused_without_running(loader, tmp_path):
    path, marker = _crafted(tmp_path)
    with pytest.raises(ModelFileError, match=str(path)):
        LOADERS[loader](path)
    assert not marker.exists(), "the payload ran"


def test_a_payload_given_as_the_campaign_potential_never_runs(tmp_path, pt55):
    path, marker = _crafted(tmp_path)
    with pytest.raises(ModelFileError):
        open_engine(pt55, path)
    assert not marker.exists()


def test_a_truncated_or_foreign_file_names_itself(tmp_path):
    good = tmp_path / "m.pt"
    save_model_file(good, "transformer", {"d_model": 8}, torch.nn.Linear(2, 2))
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good.read_bytes()[:100])
    with pytest.raises(ModelFileError, match="cut.pt"):
        read_model_file(cut, "transformer")
    with pytest.raises(ModelFileError, match="'transformer' model file, expected a 'mlip'"):
        read_model_file(good, "mlip")
    other = tmp_path / "other.pt"
    torch.save({"something": 1}, other)
    with pytest.raises(ModelFileError, match="not a hopformer model file"):
        read_model_file(other, "transformer")
    with pytest.raises(ModelFileError, match="no such file"):
        read_model_file(tmp_path / "missing.pt", "transformer")


def test_each_kind_round_trips_through_the_one_format(tmp_path):
    small = ModelConfig(d_model=16, heads=2, encoder_layers=1, decoder_layers=1, components=2)
    model = new_model(small, seed=1)
    save_model_file(tmp_path / "t.pt", "transformer", small.to_dict(), model)
    back = load_model(tmp_path / "t.pt")
    assert all(
        torch.equal(a, b)
        for a, b in zip(model.state_dict().values(), back.state_dict().values(), strict=True)
    )
    mlip = MlipNetwork(MlipConfig(width=8, layers=1, heads=2))
    save_model_file(tmp_path / "m.pt", "mlip", mlip.config.to_dict(), mlip)
    assert load_network(tmp_path / "m.pt").config == mlip.config
    for kind, model in (
        ("integrator", DisplacementIntegrator(IntegratorConfig(width=8))),
        ("predictor", TrajectoryPredictor(PredictorConfig(width=8))),
    ):
        extra = {"stride_fs": 5.0} if kind == "predictor" else {}
        save_surrogate(tmp_path / f"{kind}.pt", kind, model, {"steps": 1}, **extra)
        loaded, back = load_surrogate(tmp_path / f"{kind}.pt", kind)
        assert loaded.config == model.config and back == extra
    assert read_model_file(tmp_path / "integrator.pt", "integrator")["summary"] == {"steps": 1}
