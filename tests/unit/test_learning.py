"""The learning curve (hopformer.transformer.learning): nested whole-state subsets, a point's
figures on the fixed protocol, pooling over seeds and the log-linear trend."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from hopformer.physics.relax import Relaxer
from hopformer.transformer.examples import Example
from hopformer.transformer.learning import curve, figures, judge, point_row, subset, trend
from hopformer.transformer.network import ModelConfig
from hopformer.transformer.training import new_model


def _split(states_and_counts):
    states = [s for s, n in states_and_counts for _ in range(n)]
    return pa.table({"initial_state": states, "row": list(range(len(states)))})


def _states(table):
    return set(table.column("initial_state").to_pylist())


def test_subsets_take_whole_states_nested_by_seed():
    table = _split([(s, 1 + s % 3) for s in range(40)])
    for replica in range(3):
        previous: set = set()
        for fraction in (1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0):
            part = subset(table, fraction, seed=9, replica=replica)
            states = _states(part)
            assert len(states) == math.ceil(fraction * 40)
            assert previous <= states, "a replica's smaller share lies inside its larger"
            mine = [s for s in table.column("initial_state").to_pylist() if s in states]
            assert part.num_rows == len(mine), "every transition of a chosen state comes along"
            previous = states
        assert part.equals(table), "the whole share is the whole split"
    first = [_states(subset(table, 0.25, seed=9, replica=r)) for r in range(3)]
    assert len({frozenset(s) for s in first}) == 3, "replicas draw different states"
    assert subset(table, 0.25, 9, 1).equals(subset(table, 0.25, 9, 1)), "seeded"
    assert _states(subset(table, 0.001, 9, 0)), "at least one state"


def test_a_share_outside_zero_one_is_refused():
    table = _split([(0, 2)])
    for bad in (0.0, -0.5, 1.5):
        with pytest.raises(ValueError, match=r"fraction .*expected a share in \(0, 1\]"):
            subset(table, bad, 1, 0)
    with pytest.raises(ValueError, match="train split is empty"):
        subset(_split([]), 0.5, 1, 0)


def _point(fraction, replica, n, acc1):
    return {
        "fraction": fraction,
        "replica": replica,
        "steps": 10,
        "train_transitions": n,
        "accuracy_k1": acc1,
        "baseline_k1": 0.1,
        "surface_vs_site_move": None if replica == 0 else 2.0,
    }


def test_the_curve_pools_seeds_into_mean_and_spread():
    rows = [_point(0.5, r, 100 + r, a) for r, a in enumerate((0.2, 0.4, 0.6))]
    rows += [_point(1.0, 0, 200, 0.5)]
    pooled = curve(rows)
    assert [r["fraction"] for r in pooled] == [0.5, 1.0]
    half, whole = pooled
    assert half["replicas"] == 3 and half["train_transitions"] == pytest.approx(101)
    assert half["accuracy_k1"] == pytest.approx(0.4)
    assert half["accuracy_k1_std"] == pytest.approx(0.2), "sample standard deviation"
    assert (half["accuracy_k1_min"], half["accuracy_k1_max"]) == (0.2, 0.6)
    assert half["surface_vs_site_move"] == 2.0, "a point without the ratio is left out"
    assert whole["accuracy_k1_std"] == 0.0 and whole["surface_vs_site_move"] is None
    assert figures(rows)[:3] == ["train_transitions", "accuracy_k1", "baseline_k1"]


def test_the_trend_fits_a_line_in_log_data():
    # two seeds at 100 (0.2, 0.0) around the line 0.1 + 0.2·log10(n / 100): it is the fit
    points = [(100, 0.2), (100, 0.0), (1000, 0.3), (1000, 0.3), (10000, 0.5)]
    rows = [{"train_transitions": n, "accuracy_k1": a} for n, a in points]
    t = trend(rows, ["accuracy_k1"])
    fit = t["fits"]["accuracy_k1"]
    assert t["largest_train_transitions"] == 10000
    assert fit["slope_per_decade"] == pytest.approx(0.2)
    assert fit["at_largest"] == pytest.approx(0.5)
    assert fit["at_10x"] == pytest.approx(0.7) and fit["at_100x"] == pytest.approx(0.9)
    steep = [{"train_transitions": v, "accuracy_k1": 0.5 * math.log10(v)} for v in (10, 100)]
    assert trend(steep, ["accuracy_k1"])["fits"]["accuracy_k1"]["at_100x"] == 1.0, "a share"
    one_size = [{"train_transitions": 50, "accuracy_k1": 0.3}] * 2
    assert trend(one_size, ["accuracy_k1"])["fits"]["accuracy_k1"] is None


def test_a_point_is_judged_on_the_fixed_subsets_beside_its_baselines(
    pt55_transitions, pt_potential
):
    examples = [
        Example(
            np.asarray(t["numbers"], dtype=np.int64),
            np.asarray(t["initial_positions"]).reshape(-1, 3),
            np.asarray(t["final_positions"]).reshape(-1, 3),
            initial_state=i // 2,
            final_state=100 + i,
        )
        for i, t in enumerate(pt55_transitions[:4])
    ]
    small = ModelConfig(d_model=16, heads=2, encoder_layers=1, decoder_layers=1, components=2)
    relaxer = Relaxer(pt_potential)
    judged = [
        judge(new_model(small, seed=s).eval(), relaxer, examples, [0, 2], 3, 1, 3, 1, seed=4)
        for s in (1, 2)
    ]
    relaxer.close()
    train = _split([(7, 3), (8, 2)])
    training = {"steps": 5, "best_val_loss": 1.0, "final_val_loss": 1.2}
    rows = [point_row(0.5, i, train, j, training) for i, j in enumerate(judged)]
    for row in rows:
        assert row["accuracy_transitions"] == 3, "at most max_transitions"
        assert row["explored_md_transitions"] == 2, "one state of two transitions explored"
        assert row["baseline_k0"] == 0.0, "the initial minimum relaxes to itself"
        assert (row["train_states"], row["train_transitions"]) == (2, 5)
        assert 0.0 <= row["recovery"] <= 1.0 and 0.0 <= row["recovery_kick"] <= 1.0
    free = [
        k for k in rows[0] if k.startswith("baseline") or k in ("yield_site_move", "yield_kick")
    ]
    assert all(rows[0][k] == rows[1][k] for k in free), "the baselines do not depend on the model"
    methods = judged[0]["exploration"]["methods"]
    assert methods["sampled"]["candidates"] == methods["kick"]["candidates"] == 3
