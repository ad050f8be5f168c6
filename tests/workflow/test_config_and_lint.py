"""Configuration checks and lint: a bad config stops before any job and names the key."""

from __future__ import annotations


def test_bad_config_stops_before_any_job_and_names_the_key(workflow):
    workflow.edit_config("cluster", "shells", -1)
    proc = workflow.snakemake(check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "shells" in text and "minimum" in text
    assert not (workflow.root / "results").exists()


def test_bad_splicing_value_is_named(workflow):
    workflow.edit_config("splicing", "workers", 0)
    proc = workflow.snakemake("-n", check=False)
    assert proc.returncode != 0
    assert "workers" in proc.stdout + proc.stderr and "minimum" in proc.stdout + proc.stderr


def test_unknown_config_key_is_named(workflow):
    workflow.edit_config("cluster", "shell", 3)
    proc = workflow.snakemake("-n", check=False)
    assert proc.returncode != 0
    assert "'shell'" in proc.stdout + proc.stderr


def test_lint_is_clean(workflow):
    proc = workflow.snakemake("--lint")
    assert "Congratulations" in proc.stdout + proc.stderr
