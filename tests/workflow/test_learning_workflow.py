"""The learning curve through Snakemake: off by default; on, only its own jobs run, every point
trains the campaign's model for its steps on a nested share and is judged on one protocol."""

from __future__ import annotations

import json

from hopformer.data import schema
from hopformer.data.shards import read_table
from hopformer.transformer.training import load_model

#: Two shares × two seeds, judged on a small protocol.
CURVE = {
    "enabled": True,
    "fractions": [0.5, 1.0],
    "seeds": 2,
    "hint_sizes": [0, 1],
    "max_transitions": 3,
    "samples": 3,
    "surface_hints": 1,
    "max_states": 2,
}


def _states(path):
    return set(read_table(path, schema.DATASET).column("initial_state").to_pylist())


def test_the_learning_curve_runs_only_its_jobs_and_pools_its_points(done):
    assert "Nothing to be done" in done.snakemake("-n").stdout, "off by default"
    for key, value in CURVE.items():
        done.edit_config("learning_curve", key, value)
    points = {"learning_subset": 4, "learning_train": 4, "judge_transformer": 4}
    assert done.planned() == {**points, "learning_curve": 1, "all": 1}
    done.snakemake()

    res, learning = done.results, done.results / "learning"
    train = _states(res / "dataset/train.parquet")
    main = load_model(res / "model/transformer.pt").config
    steps = done.config()["training"]["steps"]
    for replica in (0, 1):
        half, whole = (_states(learning / f"f{f}-s{replica}/train.parquet") for f in ("0.5", "1"))
        assert half < whole == train, "nested shares of whole states"
        assert len(half) == -(-len(train) // 2)
        for f in ("0.5", "1"):
            point = learning / f"f{f}-s{replica}"
            assert load_model(point / "transformer.pt").config == main, "the campaign's model"
            assert json.loads((point / "training.json").read_text())["steps"] == steps
    a, b = (
        load_model(learning / f"f1-s{r}/transformer.pt").state_dict()["radial.weight"]
        for r in (0, 1)
    )
    assert not a.equal(b), "each seed trains its own weights"

    rows = (learning / "points.csv").read_text().splitlines()
    header = rows[0].split(",")
    assert len(rows) == 5 and header[:3] == ["fraction", "replica", "steps"]
    table = [dict(zip(header, r.split(","), strict=True)) for r in rows[1:]]
    for name in ("baseline_k1", "yield_site_move", "yield_kick", "recovery_kick"):
        assert len({r[name] for r in table}) == 1, f"{name}: one protocol for every point"
    assert {r["accuracy_transitions"] for r in table} == {"3"}
    pooled = (learning / "curve.csv").read_text().splitlines()
    assert len(pooled) == 3 and "accuracy_k1_std" in pooled[0]
    summary = json.loads((learning / "curve.json").read_text())
    assert [r["replicas"] for r in summary["curve"]] == [2, 2]
    assert summary["trend"]["fits"]["accuracy_k1"] is not None
    assert (learning / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    assert done.planned_after("learning_curve", "samples", 4) == {
        "judge_transformer": 4,
        "learning_curve": 1,
        "all": 1,
    }
    assert done.planned_after("learning_curve", "fractions", [0.25, 0.5, 1.0]) == {
        "learning_subset": 2,
        "learning_train": 2,
        "judge_transformer": 2,
        "learning_curve": 1,
        "all": 1,
    }
