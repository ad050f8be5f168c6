"""The ML interatomic potential through Snakemake (off by default): data from a completed
campaign, training, evaluation against EAM; then a campaign that runs on the trained model."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from harness import TINY, Workflow

TINY_MLIP = {
    "enabled": True,
    "data": {
        "hot_temperatures": [1200.0],
        "states": 2,
        "frames": 3,
        "every_fs": 50.0,
        "bands": 3,
        "bulk": True,
        "bulk_temperatures": [600.0],
        "bulk_cells": 2,
        "bulk_scales": [1.0],
        "val_fraction": 0.2,
        "test_fraction": 0.3,
    },
    "model": {"cutoff": 5.0, "radial": 4, "lmax": 1, "width": 8, "layers": 1, "heads": 2},
    "training": {"steps": 6, "batch_size": 2, "checkpoint_every": 3, "eval_every": 3},
    "evaluation": {"barriers": 1, "md_ps": 0.2},
}


def test_mlip_trains_on_a_campaign_and_is_judged_against_eam(done, tmp_path):
    assert "train_mlip" not in done.planned(), "off by default"
    for key, value in TINY_MLIP.items():
        done.edit_config("mlip", key, value)
    target = f"results/{done.config()['campaign']}/mlip/evaluation.json"
    jobs = done.planned(target)
    assert jobs == {
        "make_bulk_potential": 1,
        "make_mlip_data": 1,
        "train_mlip": 1,
        "evaluate_mlip": 1,
    }, jobs
    done.snakemake(target)
    mlip = done.results / "mlip"
    data = pd.read_parquet(mlip / "data.parquet")
    assert set(data["source"]) == {"splicing", "hot", "neb", "bulk"}
    assert data.groupby("group")["split"].nunique().max() == 1, "a run is never split"
    groups = data.groupby("source")["group"].nunique()
    assert groups["hot"] == groups["splicing"] == 2, "one hot run per visited minimum and T"
    loss = pd.read_csv(mlip / "loss.csv")
    assert list(loss["step"]) == list(range(6)) and np.isfinite(loss["loss"]).all()
    summary = json.loads((mlip / "evaluation.json").read_text())
    assert summary["test_errors"]["all"]["configurations"] > 0
    assert summary["test_errors"]["all"]["force_mae_mev_a"] > 0
    assert summary["nve"]["simulated_ps"] > 0 and summary["nve_reference"]["blew_up"] is False
    assert abs(summary["nve_reference"]["energy_drift_mev_atom"]) < 1.0, "EAM NVE conserves"
    speed = summary["speed_us_per_atom_step"]
    assert speed["mlip"] > 0 and speed["eam"] > 0 and speed["mlip_bulk"] > 0
    barriers = pd.read_csv(mlip / "barriers.csv")
    assert len(barriers) == summary["barriers"]["transitions"] <= 1
    path = summary["path_barriers"]  # every untrained band, of which barriers.csv takes 1
    assert path["bands"] >= summary["barriers"]["transitions"]
    assert path["bands"] == 0 or 0 <= path["within_20_mev"] <= path["bands"]
    # The MLIP beside its peer: the workflow's model alone, then beside the bench's models
    # once bench/mlip_vs_mace.py's summary appears (only the table reruns).
    peers = f"results/{done.config()['campaign']}/mlip/peers.csv"
    assert done.planned(peers) == {"mlip_peers": 1}
    done.snakemake(peers)
    alone = pd.read_csv(mlip / "peers.csv")
    assert len(alone) == 1
    written = summary["test_errors"]["all"]["force_mae_mev_a"]
    assert alone["force_mae_mev_a"][0] == pytest.approx(written, rel=1e-3)  # 4 digits
    assert done.planned(peers) == {}
    test = {"all": {"energy_mae_mev_atom": 20.0, "force_mae_mev_a": 35.0, "force_rmse_mev_a": 55.0}}
    calls = {f"call_ms_{s}_{t}t": 70.0 for s in ("Pt55", "Al108") for t in (1, 2)}
    bench = {"models": {"mace-long": {"test": test, "train_seconds": 2700.0, **calls}}}
    (done.results / "benchmarks").mkdir(exist_ok=True)
    (done.results / "benchmarks/mlip_vs_mace.json").write_text(json.dumps(bench))
    assert done.planned(peers) == {"mlip_peers": 1}
    done.snakemake(peers)
    beside = pd.read_csv(mlip / "peers.csv")
    assert list(beside["model"])[1] == "MACE, equal time (long)"
    assert beside["pt55_call_ms_1t"][1] == 70.0

    # Editing the evaluation reruns only the evaluation.
    done.edit_config("mlip", "evaluation", {**TINY_MLIP["evaluation"], "md_ps": 0.1})
    assert done.planned(target) == {"evaluate_mlip": 1}

    # A campaign on the trained model: potential.source names the model file.
    model = tmp_path / "model.pt"
    shutil.copy(mlip / "model.pt", model)
    (tmp_path / "on_mlip").mkdir()
    on_mlip = Workflow(tmp_path / "on_mlip", TINY)
    on_mlip.edit_config("potential", "source", str(model))
    on_mlip.edit_config("cluster", "melt_ps", 0.1)
    reference = on_mlip.results / "reference"
    on_mlip.snakemake(f"results/{on_mlip.config()['campaign']}/reference/cluster.json")
    assert (reference / "potential.mlip.pt").read_bytes() == model.read_bytes()
    relaxed = json.loads((reference / "cluster.json").read_text())
    assert np.isfinite(relaxed["energy_eV"]), relaxed
    jobs = on_mlip.planned()
    assert jobs["run_segments"] >= 1 and jobs["validate_shard"] == 2, "the whole campaign follows"
