"""The campaign through Snakemake: dry runs, a full run, config edits, killed and bad jobs."""

from __future__ import annotations

import json
import os
import signal
import time

import pyarrow.dataset as ds
import yaml

from harness import REPO, after_splicing, every_job, planned_jobs, processes
from hopformer.data import schema
from hopformer.data.shards import read_table


def test_dry_run_lists_every_job_of_the_default_campaign(default_workflow):
    assert default_workflow.planned() == every_job(default_workflow.config())


def test_dry_run_of_the_production_campaign(default_workflow):
    campaign = "config/campaigns/pt147.yaml"
    config = default_workflow.config() | yaml.safe_load((REPO / campaign).read_text())
    jobs = default_workflow.planned("--configfile", campaign)
    assert jobs == every_job(config)
    assert jobs["run_segments"] >= 200


def test_campaign_writes_transitions_summary_and_rates(done):
    res = done.results
    dataset = ds.dataset(res / "transitions", format="parquet")
    assert dataset.schema.equals(schema.TRANSITIONS)
    table = dataset.to_table()
    summary = json.loads((res / "md" / "summary.json").read_text())
    assert summary["rounds"] == 2 and table.num_rows == summary["transitions_total"] > 0
    assert set(table.column("round").to_pylist()) <= {0, 1}
    rates = read_table(res / "md" / "rates.parquet", schema.RATES)
    assert rates.num_rows == summary["distinct_transitions_total"]
    assert (res / "md" / "rates.csv").read_text().count("\n") == rates.num_rows + 1
    assert 0 < summary["spliced_ps_total"] <= summary["generated_ps_total"]
    for rule_log in [
        "reference/relax_cluster",
        "splice/round-001/run_segments-001",
        "splice/round-001/splice_round",
        "md/tabulate_rates",
    ]:
        assert (res / "logs" / f"{rule_log}.log").exists()
        assert (res / "benchmarks" / f"{rule_log}.tsv").exists()


def test_edits_rerun_exactly_the_affected_jobs(done):
    assert "Nothing to be done" in "".join(done.snakemake("-n").stdout)

    planned_after = done.planned_after

    assert planned_after("rates", "min_count", 2) == {
        "tabulate_rates": 1,
        "collect_tables": 1,
        "all": 1,
    }
    assert planned_after("splicing", "rounds", 3) == {
        "run_segments": 2,
        "splice_round": 1,
        "tabulate_rates": 1,
        **after_splicing(done.config()),
        "all": 1,
    }
    assert planned_after("splicing", "block_ps", 0.5) == {
        "run_segments": 4,
        "splice_round": 2,
        "tabulate_rates": 1,
        **after_splicing(done.config()),
        "all": 1,
    }
    # A second trajectory: its start is made, and its round-0 worker (the second) and all
    # that follows rerun; the first trajectory's round-0 worker keeps its start and its shards.
    assert planned_after("splicing", "trajectories", 2) == {
        "start_trajectory": 1,
        "run_segments": 3,
        "splice_round": 2,
        "tabulate_rates": 1,
        **after_splicing(done.config()),
        "all": 1,
    }
    everything_but_potential = every_job(done.config())
    del everything_but_potential["make_potential"]
    assert planned_after("cluster", "melt_ps", 5.0) == everything_but_potential
    assert planned_after("potential", "nr", 1500) == every_job(done.config())
    assert planned_jobs(done.snakemake("-n").stdout) == {}


def test_two_trajectories_start_from_their_own_melts_and_splice_side_by_side(workflow):
    workflow.edit_config("splicing", "trajectories", 2)
    workflow.snakemake(str((workflow.results / "md/summary.json").relative_to(workflow.root)))
    res = workflow.results
    start = json.loads((res / "reference/start-001.json").read_text())
    reference = json.loads((res / "reference/cluster.json").read_text())
    assert start["trajectory"] == 1 and start["state_key"] != reference["state_key"]
    for r in range(2):
        summary = json.loads((res / f"splice/round-{r:03d}/summary.json").read_text())
        origins = [t["origin"] for t in summary["trajectories"]]
        assert origins == [0, 1], "each trajectory starts in its own melt-quenched state"
        spliced = sum(t["spliced_ps"] for t in summary["trajectories"])
        assert spliced == summary["spliced_ps_total"] > 0
    # Worker 1 is trajectory 1's: in round 0 it started from start-001, in round 1 where its
    # trajectory's spliced end was.
    segments = read_table(res / "splice/round-001/segments.parquet", schema.SEGMENTS).to_pylist()
    first = [s for s in segments if s["round"] == 0 and s["segment"] == 0]
    assert [s["start_state"] for s in first] == [0, 1]
    round0 = json.loads((res / "splice/round-000/summary.json").read_text())
    second = [s for s in segments if s["round"] == 1 and s["segment"] == 0]
    assert [s["start_state"] for s in second] == [t["end_state"] for t in round0["trajectories"]]


def test_a_killed_segment_job_leaves_no_shard_and_the_rerun_completes(workflow):
    workflow.edit_config("splicing", "segment_ps", 100.0)  # long enough to be caught running
    shard = workflow.results / "splice/round-000/worker-000/segments.parquet"
    target = str(shard.relative_to(workflow.root))  # this job alone: no other 100 ps job to wait on
    run = workflow.popen(target)
    deadline, pid = time.time() + 120, None
    while pid is None and time.time() < deadline and run.poll() is None:
        pids = processes("run-segments", target)
        log = workflow.results / "logs/splice/round-000/run_segments-000.log"
        if pids and log.exists() and "segment 1/" in log.read_text():
            pid = pids[0]
        time.sleep(0.2)
    assert pid is not None, "the segment job was not seen running"
    os.kill(pid, signal.SIGKILL)
    out, _ = run.communicate(timeout=300)
    assert run.returncode != 0
    assert not shard.exists() and not shard.with_name("transitions.parquet").exists()
    assert not list(shard.parent.glob(".*.tmp"))

    workflow.edit_config("splicing", "segment_ps", 4.0)
    workflow.snakemake(target)
    assert read_table(shard, schema.SEGMENT_SHARD).num_rows == 2


def test_a_corrupted_shard_is_reported_by_file_name(done):
    shard = done.results / "splice/round-000/worker-001/transitions.parquet"
    shard.write_bytes(shard.read_bytes()[:200])  # truncated, as by a full disk
    proc = done.snakemake(check=False)
    assert proc.returncode != 0
    rel = "results/default/splice/round-000/worker-001/transitions.parquet"
    assert f"shard {rel}: not a readable Parquet file" in proc.stdout + proc.stderr
    # The other worker's shards and the reference stage are kept.
    assert (done.results / "splice/round-000/worker-000/transitions.parquet").exists()
    assert (done.results / "reference/cluster.extxyz").exists()


def test_a_rerun_job_reproduces_its_shards_and_the_campaign(done):
    worker = done.results / "splice/round-001/worker-001"
    before = {
        k: read_table(worker / f"{k}.parquet", s)
        for k, s in (("transitions", schema.TRANSITION_SHARD), ("segments", schema.SEGMENT_SHARD))
    }
    summary = json.loads((done.results / "md/summary.json").read_text())
    for path in worker.iterdir():
        path.unlink()
    # A deleted intermediate is remade when asked for; its newer shard then reruns what
    # depends on it.
    done.snakemake(str((worker / "transitions.parquet").relative_to(done.root)))
    assert done.planned()["splice_round"] == 1
    done.snakemake()
    after = read_table(worker / "transitions.parquet", schema.TRANSITION_SHARD)
    assert after.equals(before["transitions"])
    seg = read_table(worker / "segments.parquet", schema.SEGMENT_SHARD).drop_columns("wall_s")
    assert seg.equals(before["segments"].drop_columns("wall_s"))
    assert json.loads((done.results / "md/summary.json").read_text()) == summary
