"""The trajectory surrogates' reference MD through Snakemake (off by default)."""

from __future__ import annotations

import json

import numpy as np

from hopformer.data import schema
from hopformer.data.shards import read_table


def test_reference_md_jobs_fan_out_only_when_enabled(workflow):
    assert "run_reference_md" not in workflow.planned()
    workflow.edit_config("trajectory", "enabled", True)
    jobs = workflow.planned()
    t = workflow.config()["trajectory"]
    runs = sum(len(t[s]["temperatures"]) * len(t[s]["ensembles"]) for s in ("cluster", "bulk"))
    assert jobs["run_reference_md"] == runs * t["seeds"] and jobs["make_bulk_potential"] == 1


def test_a_bulk_reference_run_writes_its_frames(workflow):
    workflow.edit_config("trajectory", "enabled", True)
    workflow.edit_config("trajectory", "length_ps", 0.5)
    workflow.edit_config("trajectory", "equilibrate_ps", 0.2)
    workflow.edit_config("trajectory", "bulk", {"cells": 2, "temperatures": [300.0]})
    target = "results/{}/trajectory/reference/bulk-nve-T300-s1.parquet"
    target = target.format(workflow.config()["campaign"])
    workflow.snakemake(target)
    frames = read_table(workflow.root / target, schema.TRAJECTORY_FRAMES).to_pylist()
    assert len(frames) == 51 and frames[-1]["time_fs"] == 500.0
    assert {f["run"] for f in frames} == {"bulk-nve-T300-s1"} and len(frames[0]["numbers"]) == 32
    energy = np.array([f["potential_energy"] + f["kinetic_energy"] for f in frames])
    assert np.ptp(energy) / 32 < 1e-3, "NVE frames conserve energy"
    assert workflow.planned(target) == {}, "nothing left to do"


def test_the_surrogates_train_on_early_seeds_and_are_judged_on_the_last(workflow):
    workflow.edit_config("trajectory", "enabled", True)
    workflow.edit_config("trajectory", "length_ps", 0.4)
    workflow.edit_config("trajectory", "equilibrate_ps", 0.2)
    workflow.edit_config(
        "trajectory", "cluster", {"temperatures": [300.0], "ensembles": ["langevin"]}
    )
    workflow.edit_config("trajectory", "bulk", {"cells": 2, "temperatures": [300.0]})
    workflow.edit_config(
        "trajectory", "integrator", {"width": 8, "steps": 5, "rollout_strides": 10}
    )
    workflow.edit_config(
        "trajectory",
        "predictor",
        {"width": 8, "layers": 1, "steps": 5, "horizon_fs": 50.0, "rollout_ps": 0.3},
    )
    root = f"results/{workflow.config()['campaign']}/trajectory"
    targets = [f"{root}/{s}/evaluation.json" for s in ("integrator", "predictor")]
    jobs = workflow.planned(*targets)
    assert {
        k: jobs[k]
        for k in (
            "make_bulk_potential",
            "run_reference_md",
            "train_integrator",
            "evaluate_integrator",
            "train_predictor",
            "evaluate_predictor",
        )
    } == {
        "make_bulk_potential": 1,
        "run_reference_md": 4,
        "train_integrator": 1,
        "evaluate_integrator": 1,
        "train_predictor": 1,
        "evaluate_predictor": 1,
    }
    workflow.snakemake(*targets)
    integrator = json.loads((workflow.root / root / "integrator/evaluation.json").read_text())
    assert [r["run"] for r in integrator] == ["bulk-nve-T300-s1"], "judged on the held-out seed"
    predictor = json.loads((workflow.root / root / "predictor/evaluation.json").read_text())
    assert [r["run"] for r in predictor] == ["cluster-langevin-T300-s1"]
    for r, steps in ((integrator[0], 10), (predictor[0], 30)):
        assert r["frames"] == steps + 1 and r["position_error_pm_10fs"] > 0
        assert np.isfinite(
            [
                r["structure_l1"],
                r["msd_end_model"],
                r["temperature_model_mean"],
                r["vdos_l1"],
                r["energy_drift_mev_atom_model"],
            ]
        ).all()
        assert r["reference_wall_s_per_ps"] > 0 and r["wall_s_per_ps"] > 0
    assert predictor[0]["single_error_pm_50fs"] > predictor[0]["single_error_pm_10fs"] > 0
    for surrogate in ("integrator", "predictor"):
        log = (workflow.root / root / f"{surrogate}/loss.csv").read_text().splitlines()
        assert log[0] == "step,loss" and len(log) == 6
        png = (workflow.root / root / f"{surrogate}/rollout.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
    predictor_config = workflow.config()["trajectory"]["predictor"]
    workflow.edit_config("trajectory", "predictor", {**predictor_config, "rollout_ps": 0.2})
    assert workflow.planned(*targets) == {"evaluate_predictor": 1}, "only the evaluation reruns"


def test_an_nve_chain_holds_its_energy_on_the_reference_potential(workflow):
    workflow.edit_config("trajectory", "enabled", True)
    workflow.edit_config("trajectory", "length_ps", 0.4)
    workflow.edit_config("trajectory", "equilibrate_ps", 0.2)
    workflow.edit_config("trajectory", "cluster", {"temperatures": [300.0], "ensembles": ["nve"]})
    predictor = {"width": 8, "layers": 1, "steps": 5, "horizon_fs": 50.0, "rollout_ps": 0.3}
    workflow.edit_config("trajectory", "predictor", predictor)
    target = f"results/{workflow.config()['campaign']}/trajectory/predictor/evaluation.json"
    workflow.snakemake(target)
    learned = json.loads((workflow.root / target).read_text())[0]
    workflow.edit_config("trajectory", "predictor", {**predictor, "hold": "reference"})
    assert workflow.planned(target) == {"evaluate_predictor": 1}, "only the evaluation reruns"
    workflow.snakemake(target)
    held = json.loads((workflow.root / target).read_text())[0]
    assert held["run"] == "cluster-nve-T300-s1" and held["frames"] == 31
    # the reference potential scores the chain's energy: held on it, the total stays put
    assert abs(held["energy_drift_mev_atom_model"]) < 1e-6
    assert abs(learned["energy_drift_mev_atom_model"]) > 1e-3
