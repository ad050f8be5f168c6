"""The validation stage through Snakemake: shards, collected tables, paths, plots, the report."""

from __future__ import annotations

import json

import numpy as np
from ase.io import read

from hopformer.data import schema
from hopformer.data.shards import read_table


def test_validation_writes_rate_tables_paths_and_plots(done):
    res = done.results
    shards = [
        read_table(res / f"validation/shards/shard-{s:03d}.parquet", schema.VALIDATION)
        for s in range(2)
    ]
    rows = [r for t in shards for r in t.to_pylist()]
    summary = json.loads((res / "validation/summary.json").read_text())
    assert summary["held_out_states"] == 2 and summary["transitions"] == len(rows) > 0
    assert [a["k"] for a in summary["accuracy"]] == [0, 1, 4], "accuracy(k) carried over"
    # Every MD transition out of the two held-out states is in the table, found by MD.
    ids = {r["transition_id"] for r in rows}
    held = {r["initial_state"] for r in rows if r["held_out"]}
    test = read_table(res / "dataset/test.parquet", schema.DATASET).to_pylist()
    md_ids = {
        f"{t['initial_state']}-{t['final_state']}" for t in test if t["initial_state"] in held
    }
    assert md_ids <= ids
    c = summary["candidates"]
    assert c["sampled_candidates"] == 2 and c["surface_candidates"] <= 2
    assert c["hint1_candidates"] == len(md_ids)
    # Beside the model, on the same states and hints: its model-free counterparts.
    assert c["kick_candidates"] == 2 and c["site_move_candidates"] == c["surface_candidates"]
    m = summary["methods"]
    assert m["kick"]["candidates"] == m["sampled"]["candidates"] == 2
    assert "surface/site_move" in m and "sampled/kick" in m

    table = read_table(res / "validation/rates.parquet", schema.RATE_TABLE).to_pylist()
    assert len(table) == len(rows)
    md = {
        (r["initial_state"], r["final_state"]): r
        for r in read_table(res / "md/rates.parquet", schema.RATES).to_pylist()
    }
    for r in table:
        assert r["found_by"] in ("md", "model", "both", "model_free")
        assert r["novel"] == (r["final_state"] < 0) == (r["found_by"] in ("model", "model_free"))
        if r["neb_status"] == "ok":
            # Barrier from the climbing image, rate from hTST at the campaign temperature.
            assert r["barrier"] >= 0 and r["prefactor_thz"] > 0 and r["imaginary_modes"] == 1
            kt = 8.617333262e-5 * r["temperature"]
            assert np.isclose(
                r["htst_rate_per_ps"], r["prefactor_thz"] * np.exp(-r["barrier"] / kt)
            )
            assert r["htst_temperatures"] == [300.0, 500.0, 900.0]
            assert np.isclose(r["reverse_barrier"] - r["barrier"], -r["delta_energy"], atol=1e-4)
        else:
            assert r["barrier"] is None and r["htst_rate_per_ps"] is None and r["neb_detail"]
        if not r["novel"]:
            assert r["md_rate_per_ps"] == md[(r["initial_state"], r["final_state"])]["rate_per_ps"]

    csv = (res / "validation/rates.csv").read_text().splitlines()
    assert len(csv) == len(rows) + 1 and "htst_rate_900K_per_ps" in csv[0]
    top = (res / "validation/top_transitions.csv").read_text().splitlines()
    assert top[0].startswith("rank,transition_id,md_count,frequency") and 1 < len(top) <= 5
    assert (res / "validation/md_vs_htst.csv").read_text().startswith("transition_id,md_count")
    for png in ("validation/mep.png", "validation/md_vs_htst.png"):
        assert (res / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # One extxyz per path, readable by ASE: the band's images, first = the initial minimum.
    paths = sorted((res / "validation/paths").glob("*.extxyz"))
    assert len(paths) == summary["paths"] == sum(r["path_images"] > 0 for r in rows)
    row = next(r for r in rows if r["path_images"])
    frames = read(res / f"validation/paths/{row['transition_id']}.extxyz", index=":")
    assert len(frames) == row["path_images"]
    assert frames[0].info["relative_energy"] == 0.0
    x0 = np.reshape(row["initial_positions"], (-1, 3))
    assert np.allclose(frames[0].positions, x0 - x0.mean(0), atol=1e-5)


def test_validation_edits_rerun_only_what_depends_on_them(done):
    planned_after = done.planned_after
    assert planned_after("validation", "temperatures", [400.0]) == {"collect_tables": 1, "all": 1}
    assert planned_after("validation", "compare_min_count", 5) == {"collect_tables": 1, "all": 1}
    assert planned_after("validation", "samples", 2) == {
        "validate_shard": 2,
        "collect_tables": 1,
        "all": 1,
    }
    assert planned_after("validation", "shards", 3) == {
        "validate_shard": 3,
        "collect_tables": 1,
        "all": 1,
    }
    assert planned_after("evaluation", "samples", 3) == {"explore_transitions": 1, "all": 1}


def test_the_report_holds_the_tables_and_figures_with_captions(done):
    report = done.root / "report.html"
    done.snakemake("--report", str(report))
    html = report.read_text()
    for caption in (
        "Rate/energy table",
        "Minimum-energy paths",
        "Harmonic-TST rate against MD",
        "accuracy(k)",
    ):
        assert caption in html, caption
    for name in ("rates.csv", "mep.png", "md_vs_htst.png", "accuracy.png"):
        assert name in html, name
