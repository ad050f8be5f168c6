"""The reference stage through Snakemake: dry run, local run, config edits, bad config."""

from __future__ import annotations

import json

from harness import planned_jobs

EVERY_JOB = {"make_potential": 1, "relax_cluster": 1, "all": 1}


def test_dry_run_lists_every_job(workflow):
    proc = workflow.snakemake("-n")
    assert planned_jobs(proc.stdout + proc.stderr) == EVERY_JOB


def test_local_run_then_edits_rerun_only_what_changed(workflow):
    workflow.snakemake()
    ref = workflow.root / "results" / "default" / "reference"
    summary = json.loads((ref / "cluster.json").read_text())
    assert summary["natoms"] == 55 and summary["fmax_eV_per_A"] <= 1e-3
    assert (workflow.root / "results/default/logs/reference/relax_cluster.log").exists()
    assert (workflow.root / "results/default/benchmarks/reference/relax_cluster.tsv").exists()

    again = workflow.snakemake("-n")
    assert "Nothing to be done" in again.stdout + again.stderr

    workflow.edit_config("cluster", "shells", 2)
    proc = workflow.snakemake("-n")
    assert planned_jobs(proc.stdout + proc.stderr) == {"relax_cluster": 1, "all": 1}

    workflow.edit_config("cluster", "shells", 3)
    workflow.edit_config("potential", "nr", 1500)
    proc = workflow.snakemake("-n")
    assert planned_jobs(proc.stdout + proc.stderr) == EVERY_JOB


def test_bad_config_stops_before_any_job_and_names_the_key(workflow):
    workflow.edit_config("cluster", "shells", -1)
    proc = workflow.snakemake(check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "shells" in text and "minimum" in text
    assert not (workflow.root / "results").exists()


def test_unknown_config_key_is_named(workflow):
    workflow.edit_config("cluster", "shell", 3)
    proc = workflow.snakemake("-n", check=False)
    assert proc.returncode != 0
    assert "'shell'" in proc.stdout + proc.stderr


def test_lint_is_clean(workflow):
    proc = workflow.snakemake("--lint")
    assert "Congratulations" in proc.stdout + proc.stderr
