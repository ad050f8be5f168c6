"""The transformer stage through Snakemake: dataset, training, evaluation, edits, a killed job."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time

import numpy as np

from harness import kinetics_jobs, processes
from hopformer.data import schema
from hopformer.data.shards import read_table
from hopformer.transformer.training import load_model


def test_transformer_stage_writes_splits_model_accuracy_and_exploration(done):
    res = done.results
    manifest = json.loads((res / "dataset/manifest.json").read_text())
    initial = {}
    for split in ("train", "val", "test"):
        table = read_table(res / f"dataset/{split}.parquet", schema.DATASET)
        assert table.num_rows == manifest["splits"][split]["transitions"] > 0
        initial[split] = set(table.column("initial_state").to_pylist())
    assert not (initial["train"] & initial["test"]) and not (initial["train"] & initial["val"])
    md = json.loads((res / "md/summary.json").read_text())
    assert manifest["distinct_transitions"] == md["distinct_transitions_total"]

    model = load_model(res / "model/transformer.pt")
    assert model.config.d_model == 16
    losses = (res / "model/loss.csv").read_text().splitlines()
    assert losses[0].startswith("step,epoch,train_loss") and len(losses) == 1 + 20
    training = json.loads((res / "model/training.json").read_text())
    assert training["completed"] and training["device"] == "cpu"

    acc = read_table(res / "evaluation/accuracy.parquet", schema.ACCURACY).to_pylist()
    assert [r["k"] for r in acc] == [0, 1, 4]
    assert all(r["transitions"] == 3 for r in acc)
    assert acc[0]["baseline_accuracy"] == 0.0, "the initial minimum relaxes to itself"
    csv = (res / "evaluation/accuracy.csv").read_text().splitlines()
    assert csv[0].split(",") == schema.ACCURACY.names and len(csv) == 4
    assert (res / "evaluation/accuracy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    details = read_table(res / "evaluation/accuracy_details.parquet", schema.ACCURACY_DETAILS)
    assert details.num_rows == 9

    explored = json.loads((res / "evaluation/exploration.json").read_text())
    assert explored["initial_states"] == 2
    c = explored["candidates"]
    assert c["sampled_candidates"] == 4 and c.get("surface_candidates", 0) <= 4
    found = read_table(res / "evaluation/exploration.parquet", schema.EXPLORATION).to_pylist()
    by_model = [r for r in found if {"sampled", "surface"} & set(r["hint_kinds"].split(","))]
    assert len(by_model) == explored["distinct_transitions"] <= c.get("valid", 0)
    m = explored["methods"]  # the model-free ways beside it, on as many candidates
    assert m["kick"]["candidates"] == m["sampled"]["candidates"] == 4
    assert m["site_move"]["candidates"] == m["surface"]["candidates"]
    methods = (res / "evaluation/exploration_methods.csv").read_text().splitlines()
    assert methods[0].startswith("method,uses_model,candidates") and len(methods) == 7


def test_transformer_edits_rerun_only_what_depends_on_them(done):
    planned_after = done.planned_after

    downstream = {
        "evaluate_transformer": 1,
        "explore_transitions": 1,
        "validate_shard": 2,
        "collect_tables": 1,
        **kinetics_jobs(done.config()),  # the searches use the model
        "all": 1,
    }
    assert planned_after("evaluation", "samples", 3) == {"explore_transitions": 1, "all": 1}
    assert planned_after("evaluation", "hint_sizes", [0, 2]) == {
        "evaluate_transformer": 1,
        "collect_tables": 1,
        "all": 1,
    }
    assert planned_after("transformer", "decoder_layers", 2) == {
        "train_transformer": 1,
        **downstream,
    }
    assert planned_after("training", "steps", 30) == {"train_transformer": 1, **downstream}
    assert planned_after("dataset", "test_fraction", 0.3) == {
        "make_dataset": 1,
        "train_transformer": 1,
        **downstream,
    }
    assert "Nothing to be done" in done.snakemake("-n").stdout


def test_a_killed_training_job_resumes_from_its_checkpoint(done):
    done.edit_config("training", "steps", 3000)
    done.edit_config("training", "checkpoint_every", 25)
    log = done.results / "logs/model/train_transformer.log"
    checkpoint = done.results / "model/checkpoints/last.pt"

    def run_until(condition):
        """Start the workflow, SIGKILL the training once ``condition(log text)`` holds. On a
        slow machine the condition may not come in time: then the test fails, and neither
        the workflow nor its 3000-step training is left running behind it."""
        run = done.popen("--until", "train_transformer")
        deadline, text, killed = time.time() + 300, "", False
        try:
            while time.time() < deadline and run.poll() is None:
                text = log.read_text() if log.exists() else ""
                pids = processes("train-transformer", under=done.root)
                if pids and condition(text):
                    os.kill(pids[0], signal.SIGKILL)
                    killed = True
                    break
                time.sleep(0.1)
            assert killed, f"the training never reached the point to kill it at:\n{text}"
            run.communicate(timeout=120)
        finally:
            # the training first: it holds the workflow's output pipes open, so reading them
            # to the end would wait for the whole training once the workflow is killed
            for pid in processes("train-transformer", under=done.root):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            if run.poll() is None:
                run.kill()
                run.communicate(timeout=120)
        assert run.returncode != 0, "the training job should have been killed"
        return text

    started = time.time()
    # killed once its first checkpoint is written: on a loaded machine that is a minute or two
    run_until(lambda t: checkpoint.exists() and checkpoint.stat().st_mtime > started)
    assert not (done.results / "model/transformer.pt").exists()
    assert checkpoint.exists(), "a failed job's checkpoints are kept (they are not outputs)"
    text = run_until(lambda t: "resuming from" in t)
    step = int(text.split("resuming from")[1].split("at step")[1].split()[0])
    assert step >= 25 and step % 25 == 0, "it continues from a checkpoint, not from step 0"


def test_generate_relaxes_seeded_candidates_for_a_structure(done, tmp_path):
    import subprocess
    import sys

    from ase.io import read

    res = done.results
    cluster = res / "reference/cluster.extxyz"
    hinted = read(cluster)
    hinted.positions[7] += [0.0, 0.0, 0.8]
    hint_file = tmp_path / "hint.extxyz"
    hinted.write(hint_file)

    def generate(out, seed, *extra):
        cmd = [
            sys.executable,
            "-m",
            "hopformer",
            "generate",
            "--model",
            str(res / "model/transformer.pt"),
            "--potential",
            str(res / "reference/potential.eam.alloy"),
            "--initial",
            str(cluster),
            "--samples",
            "3",
            "--seed",
            str(seed),
            "--out",
            str(out),
            *extra,
        ]
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout

    text = generate(tmp_path / "a.extxyz", 1, "--hint-atoms", "7", "--hint-from", str(hint_file))
    assert "wrote 3 relaxed candidates" in text
    frames = read(tmp_path / "a.extxyz", ":")
    assert [f.info["sample"] for f in frames] == [0, 1, 2]
    ok = [f for f in frames if f.info["status"] == "ok"]
    assert ok and all("relaxed_energy" in f.info and "same_as_initial" in f.info for f in ok)
    generate(tmp_path / "b.extxyz", 1, "--hint-atoms", "7", "--hint-from", str(hint_file))
    again = read(tmp_path / "b.extxyz", ":")
    assert all(np.array_equal(f.positions, g.positions) for f, g in zip(frames, again, strict=True))
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "hopformer",
            "generate",
            "--model",
            str(res / "model/transformer.pt"),
            "--potential",
            "x",
            "--initial",
            str(cluster),
            "--hint-atoms",
            "999",
            "--hint-from",
            str(hint_file),
            "--out",
            str(tmp_path / "c.extxyz"),
        ],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "--hint-atoms 999: atoms are numbered 0..54" in bad.stderr
