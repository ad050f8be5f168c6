"""The kinetics stage through Snakemake: its outputs, edit-and-rerun, a killed search job."""

from __future__ import annotations

import json
import os
import signal
import time

from harness import kinetics_jobs, processes
from hopformer.data.kinetics import EVENTS, KINETIC_STATES, PROCESSES, SEARCH_STATS, TRAJECTORY
from hopformer.data.shards import read_table

KINETICS_RULES = {
    "kinetics_start",
    "kinetics_search",
    "kinetics_round",
    "finetune_transformer",
    "kinetics_report",
    "all",
}


def test_the_kinetics_stage_writes_its_tables_and_report(done):
    k = done.config()["kinetics"]
    last = done.results / f"kinetics/round-{k['rounds'] - 1:03d}"
    states = read_table(last / "states.parquet", KINETIC_STATES).to_pylist()
    procs = read_table(last / "processes.parquet", PROCESSES).to_pylist()
    read_table(last / "trajectory.parquet", TRAJECTORY)
    assert states[0]["state"] == 0 and states[0]["searches"] >= 1
    # Every valid process leads to a registered state and carries its hTST rate.
    ids = {s["state"] for s in states}
    for p in procs:
        assert (p["product"] in ids) == p["valid"]
        assert (p["rate_per_ps"] is not None) == p["valid"]
    for r in range(k["rounds"]):
        stats = [
            read_table(
                done.results / f"kinetics/round-{r:03d}/search-{j:03d}.stats.parquet", SEARCH_STATS
            )
            for j in range(k["searches"])
        ]
        rows = [row for t in stats for row in t.to_pylist()]
        assert sorted({row["finder"] for row in rows}) == sorted(k["finders"])
        assert all(row["force_calls"] > 0 for row in rows)
        assert all(row["model_generation"] == r // k["retrain_every"] for row in rows)
    summary = json.loads((done.results / "kinetics/summary.json").read_text())
    assert set(summary["finders"]) == set(k["finders"])
    assert (done.results / "kinetics/kinetics.png").stat().st_size > 10_000
    assert (done.results / "kinetics/finders.csv").read_text().startswith("round,finder,")
    tuned = json.loads((done.results / "kinetics/model-g01/training.json").read_text())
    assert tuned["completed"] and tuned["steps"] == k["finetune_steps"]
    first = read_table(done.results / "kinetics/round-000/processes.parquet", PROCESSES)
    # The closed loop trains on the MD split plus every valid process of round 0.
    assert tuned["kinetics_events"] == sum(first.column("valid").to_pylist())
    assert tuned["train_examples"] > tuned["kinetics_events"]


def test_editing_the_kinetics_section_reruns_only_kinetics_jobs(done):
    planned = done.planned_after("kinetics", "proposals", 3)
    assert planned == {**kinetics_jobs(done.config()), "all": 1}
    planned = done.planned_after("kinetics", "flicker_kT", 2.0)
    assert set(planned) <= KINETICS_RULES and planned["kinetics_round"] >= 1
    assert "kinetics_search" not in planned or planned["kinetics_search"] <= 2  # round 1 only
    planned = done.planned_after("kinetics", "finetune_steps", 5)
    assert set(planned) == {
        "finetune_transformer",
        "kinetics_search",
        "kinetics_round",
        "kinetics_report",
        "all",
    }


def test_a_killed_search_job_leaves_no_shard_and_its_rerun_reproduces_the_round(done):
    round_dir = done.results / "kinetics/round-001"
    events = round_dir / "search-000.events.parquet"
    before = {
        "events": read_table(events, EVENTS),
        "processes": read_table(round_dir / "processes.parquet", PROCESSES),
        "states": read_table(round_dir / "states.parquet", KINETIC_STATES),
    }
    for path in round_dir.iterdir():
        if path.is_file():
            path.unlink()
    run = done.popen()
    deadline, pid = time.time() + 180, None
    while pid is None and time.time() < deadline and run.poll() is None:
        pids = processes("kinetics-search", str(events.relative_to(done.root)))
        if pids:
            pid = pids[0]
        time.sleep(0.05)
    assert pid is not None, "the search job was not seen running"
    os.kill(pid, signal.SIGKILL)
    run.communicate(timeout=300)
    assert run.returncode != 0
    assert not events.exists() and not events.with_name("search-000.stats.parquet").exists()
    assert not list(round_dir.glob(".*.tmp"))

    done.snakemake()
    assert read_table(events, EVENTS).equals(before["events"])
    assert read_table(round_dir / "processes.parquet", PROCESSES).equals(before["processes"])
    assert read_table(round_dir / "states.parquet", KINETIC_STATES).equals(before["states"])
