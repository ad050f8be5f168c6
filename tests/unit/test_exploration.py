"""Exploration beside its model-free baselines (hopformer.transformer.exploration): the same
states and sites, as many candidates, and the model's own figures untouched by them."""

from __future__ import annotations

import numpy as np
import pytest

from hopformer.physics.relax import Relaxer
from hopformer.streams import SURFACE, rng
from hopformer.transformer.evaluation import hint_free_candidates
from hopformer.transformer.examples import Example
from hopformer.transformer.exploration import (
    KICK_SIGMA,
    explore,
    method_rows,
    model_free_candidates,
)
from hopformer.transformer.network import ModelConfig
from hopformer.transformer.training import new_model

SMALL = ModelConfig(d_model=32, heads=2, encoder_layers=1, decoder_layers=1, components=2)


@pytest.fixture(scope="module")
def examples(pt55_transitions):
    return [
        Example(
            np.asarray(t["numbers"], dtype=np.int64),
            np.asarray(t["initial_positions"]).reshape(-1, 3),
            np.asarray(t["final_positions"]).reshape(-1, 3),
            initial_state=i,
            final_state=100 + i,
        )
        for i, t in enumerate(pt55_transitions[:2])
    ]


def test_the_site_move_takes_the_hinted_atom_to_the_hinted_site(examples):
    ex, model = examples[0], new_model(SMALL, seed=1).eval()
    hints: list = []
    cands, _ = hint_free_candidates(model, ex, 0, 3, 0, rng(0, SURFACE, 0), hints)
    moves = model_free_candidates(ex, hints, 0, np.random.default_rng(0))
    assert len(moves) == len(hints) == len(cands) == 3
    for (atom, site), (moved, kind) in zip(hints, moves, strict=True):
        assert kind == "site_move"
        np.testing.assert_array_equal(moved[atom], site)
        others = np.arange(len(moved)) != atom
        np.testing.assert_array_equal(moved[others], ex.initial[others])


def test_kicks_have_the_declared_width(examples):
    ex = examples[0]
    kicks = model_free_candidates(ex, [], 50, np.random.default_rng(3))
    d = np.concatenate([k - ex.initial for k, _ in kicks])
    assert [k for _, k in kicks] == ["kick"] * 50
    assert abs(d.std() - KICK_SIGMA) < 0.02 and abs(d.mean()) < 0.02


def test_explore_counts_the_model_and_its_baselines_on_the_same_candidates(examples, pt_potential):
    model = new_model(SMALL, seed=1).eval()
    relaxer = Relaxer(pt_potential)
    groups = {ex.initial_state: [ex] for ex in examples}
    rows, summary = explore(model, relaxer, groups, samples=2, surface_hints=2, seed=5)
    again, same = explore(model, relaxer, groups, samples=2, surface_hints=2, seed=5)
    relaxer.close()
    assert summary == same and len(rows) == len(again), "seeded"
    m = summary["methods"]
    assert m["site_move"]["candidates"] == m["surface"]["candidates"] <= 4
    assert m["kick"]["candidates"] == m["sampled"]["candidates"] == 4
    for kind in ("surface", "sampled", "site_move", "kick"):
        hits = [r for r in rows if kind in r["hint_kinds"].split(",")]
        assert len(hits) == m[kind]["distinct"], kind
        assert m[kind]["per_candidate"] == pytest.approx(
            m[kind]["distinct"] / m[kind]["candidates"]
        )
    model_rows = [r for r in rows if {"surface", "sampled"} & set(r["hint_kinds"].split(","))]
    assert len(model_rows) == summary["distinct_transitions"] == m["model"]["distinct"]
    assert summary["candidates"]["sampled_candidates"] == 4, "the model's own counts"
    assert {r["method"] for r in method_rows(summary)} >= {"model", "model_free"}
