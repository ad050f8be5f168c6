"""Faults met through Snakemake: a bad config stops the workflow before its first job with one
message (no traceback) and leaves a finished campaign as it was; the user's files are rule
inputs, so editing one reruns what depends on it; a second Snakemake is locked out; an
interrupted write leaves the previous file."""

from __future__ import annotations

import os
import re
import signal
import time

import pytest
import yaml

from harness import TINY, Workflow, planned_jobs, processes, snapshot
from hopformer.physics.clusters import build_cluster
from hopformer.physics.eam import write_setfl
from hopformer.physics.io import atomic_path, write_text_atomic
from hopformer.physics.zhou2004 import zhou_table


@pytest.fixture(scope="module")
def untouched(finished):
    before = snapshot(finished.root)
    yield finished
    after = snapshot(finished.root)
    changed = [p for p in set(before) | set(after) if before.get(p) != after.get(p)]
    assert [p for p in changed if not p.startswith((".snakemake/", "config/"))] == []


def _refused(wf: Workflow, *args: str) -> str:
    proc = wf.snakemake(*args, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "Traceback" not in out and "Building DAG" not in out, "stopped before any job"
    return out


def _with_config(wf: Workflow, text: str, *args: str) -> str:
    old = wf.config_path.read_text()
    try:
        wf.config_path.write_text(text)
        return _refused(wf, *args)
    finally:
        wf.config_path.write_text(old)


def test_a_bad_value_stops_a_dry_run_with_one_message(untouched):
    old = untouched.config()["training"]["device"]
    untouched.edit_config("training", "device", "gpu0")
    try:
        out = _refused(untouched, "-n")
    finally:
        untouched.edit_config("training", "device", old)
    assert "training.device = 'gpu0': expected one of auto, cpu, cuda" in out


def test_a_cross_key_error_stops_a_real_run_before_any_job(untouched):
    untouched.edit_config("transformer", "heads", 3)
    try:
        out = _refused(untouched)
    finally:
        untouched.edit_config("transformer", "heads", TINY["transformer"]["heads"])
    assert "transformer.d_model (16) must be a multiple of transformer.heads (3)" in out


def test_a_yaml_syntax_error_in_the_config_names_file_and_line(untouched):
    text = untouched.config_path.read_text().replace("splicing:\n", "splicing:\n  rounds: [2\n", 1)
    out = _with_config(untouched, text, "-n")
    assert re.search(r"config/config\.yaml:\d+:\d+: YAML syntax error", out), out


def test_a_misspelt_key_in_an_extra_configfile_is_named(untouched, tmp_path):
    extra = tmp_path / "mine.yaml"
    extra.write_text("splicing:\n  worker: 4\n")
    out = _refused(untouched, "-n", "--configfile", str(extra))
    assert "splicing.worker: not a key of splicing" in out and "did you mean 'workers'?" in out


def test_a_campaign_that_would_write_outside_results_is_refused(untouched):
    cfg = untouched.config()
    cfg["campaign"] = ".."
    out = _with_config(untouched, yaml.safe_dump(cfg, sort_keys=False), "-n")
    assert "campaign = '..': expected a folder name" in out


def test_a_second_snakemake_on_the_same_outputs_is_locked_out(untouched, tmp_path):
    busy = untouched.copy_to(tmp_path / "busy")
    busy.edit_config("training", "steps", 100000)
    log = busy.results / "logs/model/train_transformer.log"
    started = time.time()
    first = busy.popen("--until", "train_transformer")

    def training():  # the first run's job has started: its log is new (not the finished run's)
        return log.exists() and log.stat().st_mtime > started

    try:
        deadline = time.time() + 120
        while time.time() < deadline and not training():
            time.sleep(0.2)
        assert training() and first.poll() is None, "the first run is training"
        second = busy.snakemake("--until", "train_transformer", check=False)
        out = second.stdout + second.stderr
        assert second.returncode != 0 and "LockException" in out, out
    finally:
        # the job holds Snakemake's output pipe
        for pid in processes("train-transformer", under=busy.root):
            os.kill(pid, signal.SIGKILL)
        first.kill()
        first.communicate(timeout=60)


@pytest.fixture(scope="module")
def user_files(tmp_path_factory):
    """The reference stage of the tiny campaign run on a user's potential and cluster file."""
    wf = Workflow(tmp_path_factory.mktemp("user"), TINY)
    write_setfl(zhou_table("Pt", nr=500, nrho=500), wf.root / "mine.eam.alloy")
    build_cluster("Pt", "icosahedron", shells=3, lattice_constant=3.92).write(wf.root / "mine.xyz")
    wf.edit_config("potential", "source", "mine.eam.alloy")
    wf.edit_config("cluster", "file", "mine.xyz")
    wf.target = str(wf.results.relative_to(wf.root) / "reference/cluster.json")
    wf.snakemake(wf.target)
    return wf


def test_editing_the_cluster_file_reruns_the_relaxation(user_files):
    wf = user_files
    atoms = build_cluster("Pt", "icosahedron", shells=3, lattice_constant=3.92)
    atoms.positions[0] += 0.05
    atoms.write(wf.root / "mine.xyz")
    assert wf.planned(wf.target) == {"relax_cluster": 1}


def test_editing_the_potential_file_reruns_what_it_made(user_files):
    wf = user_files
    write_setfl(zhou_table("Pt", nr=400, nrho=400), wf.root / "mine.eam.alloy")
    assert wf.planned(wf.target) == {"make_potential": 1, "relax_cluster": 1}


def test_touching_a_user_file_without_changing_it_reruns_nothing(user_files):
    wf = user_files
    wf.snakemake(wf.target)
    (wf.root / "mine.xyz").touch()
    proc = wf.snakemake("-n", wf.target)
    assert planned_jobs(proc.stdout + proc.stderr) == {}


def test_a_failed_write_keeps_the_previous_file_and_leaves_no_temporary(tmp_path):
    out = tmp_path / "table.csv"
    write_text_atomic(out, "old\n")
    with pytest.raises(RuntimeError), atomic_path(out) as tmp:
        tmp.write_text("half of the new")
        raise RuntimeError("killed mid-write")
    assert out.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["table.csv"]


def test_a_temporary_left_by_a_killed_writer_is_cleared_by_the_next_write(tmp_path):
    out = tmp_path / "table.csv"
    (tmp_path / ".table.csv.abc123.tmp").write_text("left by a SIGKILLed job")
    write_text_atomic(out, "new\n")
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]


def test_outputs_get_the_permissions_of_an_ordinary_write(tmp_path):
    ordinary = tmp_path / "ordinary.txt"
    ordinary.write_text("x")
    write_text_atomic(tmp_path / "atomic.txt", "x")
    mode = (tmp_path / "atomic.txt").stat().st_mode & 0o777
    assert mode == ordinary.stat().st_mode & 0o777, oct(mode)
