"""The Python API the README shows: generate final states for an ASE structure (what
``hopformer generate`` calls), through the library and through ``main()``."""

from __future__ import annotations

import numpy as np
import pytest
from ase.io import read, write

from hopformer.cli import main
from hopformer.ml.modelfile import save_model_file
from hopformer.transformer.generate import generate
from hopformer.transformer.network import ModelConfig
from hopformer.transformer.training import load_model, new_model

SMALL = ModelConfig(d_model=16, heads=2, encoder_layers=1, decoder_layers=1, components=2)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "transformer.pt"
    save_model_file(path, "transformer", SMALL.to_dict(), new_model(SMALL, seed=2))
    return path


def test_generate_relaxes_every_candidate_and_says_what_became_of_it(
    model_file, pt_potential, disordered_pt55
):
    model = load_model(model_file)
    frames = generate(model, disordered_pt55, pt_potential, samples=3, seed=1)
    assert [f.info["sample"] for f in frames] == [0, 1, 2]
    for f in frames:
        assert f.info["status"] in {"ok", "overlap", "unconverged", "fragmented"}
        if f.info["status"] == "ok":
            assert np.isfinite(f.info["delta_energy"]) and "same_as_initial" in f.info
    hinted = generate(
        model,
        disordered_pt55,
        pt_potential,
        hint_atoms=[4],
        hint_positions=disordered_pt55.positions[[4]] + 0.8,
        mode=True,
    )
    assert len(hinted) == 1
    with pytest.raises(ValueError, match="numbered 0..54"):
        generate(
            model, disordered_pt55, pt_potential, hint_atoms=[55], hint_positions=np.zeros((1, 3))
        )


def test_generate_command_writes_the_relaxed_candidates(
    model_file, pt_potential, disordered_pt55, tmp_path, capsys
):
    initial = tmp_path / "initial.extxyz"
    write(initial, disordered_pt55)
    out = tmp_path / "candidates.extxyz"
    args = [
        "generate",
        "--model",
        str(model_file),
        "--potential",
        str(pt_potential),
        "--initial",
        str(initial),
        "--samples",
        "2",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    frames = read(out, ":")
    assert len(frames) == 2 and all(len(f) == 55 for f in frames)
    assert main([*args, "--hint-atoms", "3,x"]) == 2
    assert "--hint-atoms '3,x': expected comma-separated atom indices" in capsys.readouterr().err
    bad = tmp_path / "garbage.pt"
    bad.write_bytes(b"not a model")
    assert main([*args[:2], str(bad), *args[3:]]) == 2
    assert f"{bad}: not a hopformer model file" in capsys.readouterr().err
