"""Validating transitions of a real Pt55 (one state, NEB + hTST) and collecting the tables."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hopformer.physics.htst import K_B
from hopformer.physics.neb import minimum_energy_path
from hopformer.physics.relax import Relaxer
from hopformer.transformer.examples import Example
from hopformer.validation.shard import (
    ValidationConfig,
    assign_shards,
    validate_pair,
    validate_state,
)
from hopformer.validation.tables import compare_rates, rate_table, top_transitions


def _example(row) -> Example:
    n = len(row["numbers"])
    x0, x1 = (np.reshape(row[c], (n, 3)) for c in ("initial_positions", "final_positions"))
    return Example(np.asarray(row["numbers"], dtype=np.int64), x0, x1, 0, 1, row["atoms_moved"])


@pytest.fixture(scope="module")
def judge(pt_potential):
    j = Relaxer(pt_potential)
    yield j
    j.close()


def test_bad_candidates_are_rejected_with_a_reason_and_the_state_completes(judge, pt55_transitions):
    ex = _example(pt55_transitions[0])
    overlapping = ex.initial.copy()
    overlapping[1] = overlapping[0] + 0.3
    fragment = ex.initial.copy()
    fragment[0] += 30.0
    near_final = ex.final + 0.02  # relaxes into MD's final state: found by both
    extra = [
        (overlapping, "hand"),
        (fragment, "hand"),
        (near_final, "hand"),
        (np.full_like(ex.initial, np.nan), "hand"),
    ]
    rows, counts = validate_state(0, [(ex, 2)], judge, ValidationConfig(), seed=1, extra=extra)
    assert counts["hand_candidates"] == 4
    assert counts["rejected_overlap"] == 2 and counts["rejected_fragmented"] == 1
    assert len(rows) == 1, "every candidate was rejected or found MD's own final state"
    row = rows[0]
    assert row["found_by"] == "both" and row["md_count"] == 2 and not row["novel"]
    assert row["transition_id"] == "0-1" and row["model_candidates"] == 1
    assert row["neb_status"] in {"ok", "split", "no_saddle", "not_first_order", "unconverged"}
    assert row["neb_status"] == "ok" or row["neb_detail"], "a row that is not ok says why"
    if row["neb_status"] == "ok":
        assert row["imaginary_modes"] == 1 and row["prefactor_thz"] > 0
        assert row["barrier"] == pytest.approx(
            row["saddle_energy"] - row["initial_energy"], abs=1e-4
        )


def test_an_end_that_is_not_a_minimum_is_rejected_before_any_band(judge, pt55_transitions):
    ex = _example(pt55_transitions[0])
    config = ValidationConfig()
    hot = ex.final + np.random.default_rng(0).normal(scale=0.05, size=ex.final.shape)
    out = validate_pair(judge, ex.numbers, ex.initial, hot, config)
    assert out["neb_status"] == "rejected" and "final end: not a minimum" in out["neb_detail"]
    squeezed = ex.initial.copy()
    squeezed[3] = squeezed[2] + 0.2
    out = validate_pair(judge, ex.numbers, squeezed, ex.final, config)
    assert out["neb_status"] == "rejected" and "initial end: overlapping atoms" in out["neb_detail"]
    assert out["barrier"] is None and out["path_images"] == 0


def test_an_ok_transition_has_a_first_order_saddle_between_its_minima(judge, pt55_transitions):
    ok = None
    for row in pt55_transitions:
        ex = _example(row)
        out = validate_pair(judge, ex.numbers, ex.initial, ex.final, ValidationConfig())
        if out["neb_status"] == "ok":
            ok = (ex, out)
            break
    assert ok is not None, "one of the real Pt55 transitions is an elementary step"
    ex, out = ok
    energies = np.asarray(out["path_energies"])
    assert energies[0] == 0.0 and energies.max() == pytest.approx(out["barrier"])
    assert 0 < np.argmax(energies) < len(energies) - 1, "the saddle is an interior image"
    assert out["barrier"] - out["reverse_barrier"] == pytest.approx(energies[-1], abs=1e-9)
    # A Pt vibration prefactor: between 0.01 and 100 THz.
    assert 0.01 < out["prefactor_thz"] < 100


def test_shards_deal_states_round_robin():
    shards = assign_shards([5, 3, 9, 1, 3, 7], 3)
    assert shards == [[1, 7], [3, 9], [5]]
    with pytest.raises(ValueError, match="validation.shards"):
        assign_shards([1], 0)
    with pytest.raises(ValueError, match="validation.images = 13"):
        ValidationConfig(images=13)


def _row(tid, i, f, count, status="ok", barrier=0.3, nu=2.0):
    ok = status == "ok"
    return {
        "transition_id": tid,
        "initial_state": i,
        "final_state": f,
        "md_count": count,
        "neb_status": status,
        "barrier": barrier if ok else None,
        "prefactor_thz": nu if ok else None,
        "delta_energy": 0.1,
        "final_energy": -1.0,
        "atoms_moved": 2,
        "found_by": "md" if f >= 0 else "model",
        "novel": f < 0,
        "numbers": [78],
        "path_images": 0,
    }


def test_rate_table_joins_md_rates_and_compares_them_with_htst():
    rows = [
        _row("1-2", 1, 2, 30),
        _row("1-3", 1, 3, 4, barrier=0.5),
        _row("1-n0", 1, -1, 0),
        _row("2-1", 2, 1, 25, status="split"),
    ]
    k = 2.0 * math.exp(-0.3 / (K_B * 700.0))
    md = [
        {"initial_state": 1, "final_state": 2, "rate_per_ps": k * 2.5, "rate_stderr_per_ps": 0.1},
        {"initial_state": 1, "final_state": 3, "rate_per_ps": 1e-9, "rate_stderr_per_ps": 0.0},
        {"initial_state": 2, "final_state": 1, "rate_per_ps": 0.2, "rate_stderr_per_ps": 0.0},
    ]
    table = rate_table(rows, md, 700.0, [300.0, 900.0])
    assert [r["transition_id"] for r in table] == ["1-2", "2-1", "1-3", "1-n0"], "by MD count"
    first = table[0]
    assert first["htst_rate_per_ps"] == pytest.approx(k)
    assert first["htst_rates_per_ps"][1] == pytest.approx(2.0 * math.exp(-0.3 / (K_B * 900.0)))
    assert first["md_rate_per_ps"] == pytest.approx(2.5 * k)
    assert table[1]["htst_rate_per_ps"] is None and table[1]["htst_rates_per_ps"] == []
    assert table[3]["md_rate_per_ps"] is None
    pairs, summary = compare_rates(table, min_count=20)
    assert [p["transition_id"] for p in pairs] == ["1-2", "1-3"]
    assert pairs[0]["ratio"] == pytest.approx(0.4) and pairs[0]["within_factor"]
    assert not pairs[1]["within_factor"]
    assert summary["compared"] == 1 and summary["within_factor"] == 1
    assert summary["geometric_mean_ratio"] == pytest.approx(0.4)
    top = top_transitions(table, total_md=100, top=2)
    assert [t["transition_id"] for t in top] == ["1-2", "2-1"]
    assert top[0]["frequency"] == pytest.approx(0.3)


def test_two_consecutive_md_hops_make_a_path_split_at_the_state_between(judge, pt55_transitions):
    """Joining MD's hops i → m and m → f into one band i → f: the band must find a minimum
    between them (m, or another) and split there, each part one band."""
    numbers = np.asarray(pt55_transitions[0]["numbers"])

    def relax(x):
        res = judge.relax(x, numbers)
        return res.positions if res.ok else None

    def same(a, b):
        return judge.same(a, b, numbers)

    splits = 0
    for first, second in zip(pt55_transitions[:4], pt55_transitions[1:5], strict=True):
        i, m = _example(first).initial, _example(first).final
        f = _example(second).final
        if not same(m, _example(second).initial) or same(i, f):
            continue  # not consecutive, or a hop back
        path = minimum_energy_path(judge.potential, numbers, i, f, relax, same, steps=1000)
        if path.split:
            splits += 1
            for a, b in zip(path.segments, path.segments[1:], strict=False):
                middle = a.positions[-1]
                assert same(middle, b.positions[0]) and not same(middle, i) and not same(middle, f)
    assert splits >= 1, "a two-hop path is split at an intermediate minimum"


def test_a_held_out_state_validates_the_model_free_counterparts_beside_the_model(
    judge, pt55_transitions
):
    from hopformer.transformer.network import ModelConfig
    from hopformer.transformer.training import new_model

    small = ModelConfig(d_model=16, heads=2, encoder_layers=1, decoder_layers=1, components=2)
    model = new_model(small, seed=3).eval()
    ex = _example(pt55_transitions[0])
    config = ValidationConfig(hint_sizes=(1,), samples=2, surface_hints=2, neb_steps=200)
    rows, counts = validate_state(0, [(ex, 1)], judge, config, seed=2, model=model)
    again, same = validate_state(0, [(ex, 1)], judge, config, seed=2, model=model)
    assert counts == same and [r["transition_id"] for r in rows] == [
        r["transition_id"] for r in again
    ], "seeded"
    assert counts["kick_candidates"] == counts["sampled_candidates"] == 2
    assert counts["site_move_candidates"] == counts["surface_candidates"] <= 2
    for r in rows:
        kinds = set(r["hint_kinds"].split(",")) - {""}
        if r["found_by"] == "model_free":
            assert kinds and kinds <= {"site_move", "kick"} and r["model_candidates"] == 0
            assert r["novel"], "a minimum MD saw is MD's, whoever else found it"
        if kinds & {"hint1", "sampled", "surface"}:
            assert r["found_by"] in ("model", "both") and r["model_candidates"] >= 1


def test_methods_set_each_model_kind_beside_its_counterpart():
    from collections import Counter

    from hopformer.validation.tables import methods

    def row(kinds, status="ok", novel=True):
        return {"hint_kinds": kinds, "neb_status": status, "novel": novel}

    table = [
        row("sampled,site_move"),
        row("surface"),
        row("surface", status="split"),
        row("kick", novel=False),
        row(""),
    ]
    counts = Counter(surface_candidates=4, site_move_candidates=4, sampled_candidates=2)
    counts["kick_candidates"] = 2
    m = methods(table, counts)
    assert m["surface"] == {
        "candidates": 4,
        "distinct": 2,
        "validated": 1,
        "validated_novel": 1,
        "validated_per_candidate": 0.25,
    }
    assert m["site_move"]["validated"] == 1 and m["kick"]["validated_novel"] == 0
    assert m["surface/site_move"] == pytest.approx(1.0)
    assert m["sampled/kick"] == pytest.approx(1.0)
    assert methods([], Counter())["surface/site_move"] is None
