"""The transformer's dataset (dedupe, split by initial state) and candidate relaxation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hopformer.data import schema
from hopformer.data.dataset import SplitSpec, assign_splits, enantiomer_classes, make_dataset
from hopformer.data.shards import read_table, write_rows
from hopformer.physics.potentials import open_engine
from hopformer.physics.relax import relax_candidate
from hopformer.physics.states import same_state


def _row(i, s0, s1, round_=0, worker=0):
    x = np.zeros((2, 3))
    x[1, 0] = 2.5 + 0.01 * i
    return {
        "campaign": "t",
        "round": round_,
        "worker": worker,
        "segment": i,
        "block": 0,
        "initial_key": "a",
        "final_key": "b",
        "numbers": [78, 78],
        "initial_positions": x,
        "final_positions": x,
        "initial_energy": -1.0 - 1e-3 * s0,  # states 1 meV apart: never mirror images
        "final_energy": -1.0,
        "max_displacement": 0.0,
        "hyperdistance": 0.0,
        "atoms_moved": 0,
        "time_ps": float(i),
        "dwell_ps": 1.0,
        "temperature": 700.0,
        "potential_sha256": "x",
        "initial_state": s0,
        "final_state": s1,
    }


def test_dataset_keeps_one_row_per_transition_and_no_state_in_two_splits(tmp_path):
    pairs = [(s, (s + d) % 20) for s in range(20) for d in (1, 2)]
    rows = [_row(i, a, b) for i, (a, b) in enumerate(pairs)]
    # The same transitions seen again in a later round: counted, not duplicated.
    later = [_row(100 + i, a, b, round_=1) for i, (a, b) in enumerate(pairs[:10])]
    files = [
        write_rows(rows, tmp_path / "r0.parquet", schema.TRANSITIONS),
        write_rows(later, tmp_path / "r1.parquet", schema.TRANSITIONS),
    ]
    manifest = make_dataset(files, tmp_path / "ds", SplitSpec(0.1, 0.2, seed=4))
    tables = {
        s: read_table(tmp_path / "ds" / f"{s}.parquet", schema.DATASET).to_pylist()
        for s in ("train", "val", "test")
    }
    all_rows = [r for t in tables.values() for r in t]
    assert len(all_rows) == len(pairs) == manifest["distinct_transitions"]
    assert sum(r["count"] for r in all_rows) == len(rows) + len(later)
    assert all(r["round"] == 0 for r in all_rows), "the first observation is kept"
    states = {s: {r["initial_state"] for r in t} for s, t in tables.items()}
    assert not states["train"] & states["val"] and not states["train"] & states["test"]
    assert not states["val"] & states["test"]
    assert (len(states["test"]), len(states["val"]), len(states["train"])) == (4, 2, 14)
    assert all(r["split"] == s for s, t in tables.items() for r in t)
    on_disk = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert on_disk["splits"]["test"]["initial_states"] == 4
    # Deterministic in the seed; another seed holds out other states.
    assert assign_splits(range(20), SplitSpec(0.1, 0.2, 4)) == assign_splits(
        range(20), SplitSpec(0.1, 0.2, 4)
    )
    assert assign_splits(range(20), SplitSpec(0.1, 0.2, 5)) != assign_splits(
        range(20), SplitSpec(0.1, 0.2, 4)
    )


def test_a_minimum_and_its_mirror_image_go_to_one_split(tmp_path, disordered_pt55):
    x, z = disordered_pt55.positions, disordered_pt55.numbers
    rows = []
    for s in range(30):
        r = _row(s, s, (s + 1) % 30)
        r["numbers"] = z
        r["initial_positions"] = x + 0.2 * np.random.default_rng(s).normal(size=x.shape)
        r["final_positions"] = r["initial_positions"]
        if s % 10 == 7:  # 7, 17, 27: mirror images of 3, 13, 23, at their energy
            mirror = rows[s - 4]
            r["initial_positions"] = mirror["initial_positions"] * [-1.0, 1.0, 1.0]
            r["initial_energy"] = mirror["initial_energy"] + 1e-7
        rows.append(r)
    f = write_rows(rows, tmp_path / "r.parquet", schema.TRANSITIONS)
    table = read_table(f, schema.TRANSITIONS)
    classes = enantiomer_classes(table)
    assert {s: c for s, c in classes.items() if s != c} == {7: 3, 17: 13, 27: 23}
    for seed in range(8):  # whatever the draw, a pair never straddles two splits
        split = assign_splits(range(30), SplitSpec(0.2, 0.3, seed), classes)
        assert all(split[s] == split[s - 4] for s in (7, 17, 27))
    manifest = make_dataset([f], tmp_path / "ds", SplitSpec(0.2, 0.3, 1))
    assert manifest["enantiomer_pairs"] == 3
    plain = assign_splits(range(30), SplitSpec(0.2, 0.3, 1))
    assert plain == assign_splits(range(30), SplitSpec(0.2, 0.3, 1), {s: s for s in range(30)})


def test_dataset_errors_name_what_is_wrong(tmp_path):
    with pytest.raises(ValueError, match="dataset.test_fraction must be in"):
        SplitSpec(0.1, 1.5)
    with pytest.raises(ValueError, match=r"val_fraction \+ dataset.test_fraction must be < 1"):
        SplitSpec(0.5, 0.5)
    f = write_rows([_row(0, 0, 1), _row(1, 1, 0)], tmp_path / "r.parquet", schema.TRANSITIONS)
    with pytest.raises(ValueError, match="2 distinct initial state.*at least 3"):
        make_dataset([f], tmp_path / "ds", SplitSpec())


def test_relax_candidate_rejects_bad_candidates_with_a_reason(pt_potential, disordered_pt55):
    x = disordered_pt55.positions.copy()
    engine = open_engine(disordered_pt55, pt_potential)
    ok = relax_candidate(engine, x + np.random.default_rng(1).normal(0, 0.02, x.shape))
    assert ok.ok and same_state(ok.positions, x, disordered_pt55.numbers)
    assert ok.energy == pytest.approx(disordered_pt55.get_potential_energy(), abs=1e-4)
    overlap = x.copy()
    overlap[1] = overlap[0] + [0.3, 0.0, 0.0]
    res = relax_candidate(engine, overlap)
    assert res.status == "overlap" and "0.300 Å" in res.detail and res.positions is None
    far = x.copy()
    far[5] += [30.0, 0.0, 0.0]
    res = relax_candidate(engine, far)
    assert res.status == "fragmented" and "[5]" in res.detail
    engine.close()
