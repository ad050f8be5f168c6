"""The workflow through a real SLURM: the cluster profile, its GPU request, and a full run.

The run test brings up a one-node SLURM on this machine (tests/workflow/slurm_cluster.py;
installs Debian's slurm-wlm and munge when missing, as root), runs the tiny campaign through
`sbatch` with `--profile profiles/slurm` plus a test-only layer for the local partition and
squeue polling, checks in SLURM's own records that every job went through it (the training
with its GPU), and that the results equal a local run's. A machine that cannot run SLURM fails
the test with the reason.

Bringing up SLURM installs system packages and writes /etc/slurm, which a user's `make test`
must never do: the run test runs only when HOPFORMER_SLURM_TEST=1 (``.ci/run`` sets it; so
may a developer on a disposable root machine), and is reported as skipped otherwise.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from slurm_cluster import LocalSlurm, SlurmUnavailable

from harness import REPO, TINY, Workflow, every_job
from hopformer.data import kinetics, schema
from hopformer.data.shards import read_table

TEST_PROFILE = Path(__file__).parent / "slurm_profile"


def _install_profile(home: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "-s", "-C", str(REPO), "slurm-profile"],
        env=dict(os.environ, HOME=str(home)),
        capture_output=True,
        text=True,
    )


def test_profile_name_resolves_once_installed_and_shows_the_gpu_request(workflow, tmp_path):
    home = tmp_path / "home"
    first = _install_profile(home)
    assert first.returncode == 0, first.stderr
    link = home / ".config/snakemake/slurm"
    assert link.resolve() == (REPO / "profiles/slurm").resolve()
    assert _install_profile(home).returncode == 0, "installing twice is harmless"
    proc = workflow.snakemake("--profile", "slurm", "-n", env=dict(os.environ, HOME=str(home)))
    out = proc.stdout + proc.stderr
    train = out[out.index("rule train_transformer:") :]
    resources = next(line for line in train.splitlines() if "resources:" in line)
    assert "gpu=1" in resources and "executor: slurm" not in resources

    link.unlink()
    link.mkdir()  # a different profile of the user's
    refused = _install_profile(home)
    assert refused.returncode != 0 and "refusing to replace" in refused.stderr
    assert link.is_dir() and not link.is_symlink()


def _tables(results: Path) -> dict:
    files = {
        **{f"transitions/round-{r:03d}.parquet": schema.TRANSITIONS for r in range(2)},
        "md/rates.parquet": schema.RATES,
        **{f"dataset/{s}.parquet": schema.DATASET for s in ("train", "val", "test")},
        "evaluation/accuracy.parquet": schema.ACCURACY,
        "evaluation/exploration.parquet": schema.EXPLORATION,
        "validation/rates.parquet": schema.RATE_TABLE,
        "kinetics/round-000/search-000.events.parquet": kinetics.EVENTS,
        "kinetics/round-001/processes.parquet": kinetics.PROCESSES,
        "kinetics/round-001/states.parquet": kinetics.KINETIC_STATES,
        "kinetics/round-001/trajectory.parquet": kinetics.TRAJECTORY,
    }
    return {name: read_table(results / name, s) for name, s in files.items()}


@pytest.mark.slurm
def test_the_campaign_runs_through_sbatch_and_matches_a_local_run(_completed, tmp_path):
    if os.environ.get("HOPFORMER_SLURM_TEST") != "1":
        pytest.skip(
            "installs slurm-wlm and writes /etc/slurm: runs with HOPFORMER_SLURM_TEST=1, "
            "as .ci/run sets it"
        )
    (tmp_path / "wf").mkdir()
    wf = Workflow(tmp_path / "wf", TINY)
    shutil.copytree(TEST_PROFILE, wf.root / "slurm-test")
    try:
        cluster = LocalSlurm(tmp_path / "slurm").__enter__()
    except SlurmUnavailable as exc:
        pytest.fail(f"this machine cannot run the test SLURM cluster: {exc}")
    try:
        cmd, env = wf.command(
            "--profile", "profiles/slurm", "--workflow-profile", "slurm-test", env=cluster.env
        )
        # Without accounting a lost status query would make Snakemake wait forever; SIGINT is
        # what stops it (docs/slurm.md).
        proc = subprocess.run(
            ["timeout", "-s", "INT", "-k", "30", "900", *cmd],
            cwd=wf.root,
            env=env,
            capture_output=True,
            text=True,
        )
        if proc.returncode:
            job_logs = [
                f"{p}:\n{p.read_text()[-3000:]}"
                for p in (wf.root / ".snakemake/slurm_logs").rglob("*.log")
            ]
            pytest.fail(
                f"snakemake through SLURM failed:\n{proc.stderr[-4000:]}\n" + "\n".join(job_logs)
            )
        records = cluster.run("squeue", "-h", "-t", "all", "-o", "%i|%k|%T")
        train = [
            line.split("|")[0] for line in records.splitlines() if "|rule_train_transformer" in line
        ]
        train_record = cluster.run("scontrol", "show", "job", train[0]) if train else ""
    finally:
        cluster.stop()
    pids = [Path(f"/proc/{p}") for p in cluster.pids.values()]
    assert not any(p.exists() for p in pids), "every daemon the test started is stopped"

    jobs = [line.split("|") for line in records.splitlines() if line.strip()]
    per_rule: dict[str, int] = {}
    for _, comment, state in jobs:
        rule = comment.removeprefix("rule_").split("_wildcards_")[0]
        per_rule[rule] = per_rule.get(rule, 0) + 1
        assert state == "COMPLETED", records
    expected = every_job(wf.config())
    del expected["all"]  # a target rule: nothing to run, Snakemake settles it locally
    assert per_rule == expected, records
    assert "gpu:1" in train_record, f"the training job asked SLURM for a GPU:\n{train_record}"
    logs = wf.root / ".snakemake/slurm_logs"
    assert list((logs / "rule_train_transformer").rglob("*.log"))
    assert len(list(logs.rglob("*.log"))) == sum(expected.values())

    # The same config and seeds give the same results through SLURM as locally.
    local, remote = _tables(_completed.results), _tables(wf.results)
    for name in local:
        assert remote[name].equals(local[name]), name
    for name in ("model/loss.csv", "evaluation/accuracy.csv"):
        assert (wf.results / name).read_text() == (_completed.results / name).read_text(), name
