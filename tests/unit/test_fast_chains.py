"""What makes a predictor chain cheap without changing what it computes: edge MLPs with their
atom blocks projected per atom, one neighbour search per step, a hold every few steps, a
float32 model under a float64 state, and a compiled model (docs/design.md §13)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import hopformer.surrogates.predictor as predictor_module
from hopformer.ml.layers import edge_mlp, gathered_linear, mlp
from hopformer.physics.md import masses_of
from hopformer.surrogates.predictor import (
    PredictorConfig,
    TrajectoryPredictor,
    chain,
    kinetic_energy,
    potential_energy,
)


def test_an_edge_mlp_with_its_atom_blocks_projected_per_atom_is_the_mlp_of_the_concatenation():
    torch.manual_seed(0)
    net = mlp(8 + 2 * 16, 24, 3).double()
    h = torch.randn(30, 16, dtype=torch.float64)
    e = torch.randn(200, 8, dtype=torch.float64)
    i, j = torch.randint(0, 30, (200,)), torch.randint(0, 30, (200,))
    # edge block first, as the MLIP's gate reads it
    expected = net(torch.cat([e, h[i], h[j]], -1))
    torch.testing.assert_close(edge_mlp(net, [e, (h, i), (h, j)]), expected, rtol=0, atol=1e-12)
    # and the gradients through it, which training and the MLIP's forces use
    h.requires_grad_(True)
    (g_new,) = torch.autograd.grad(edge_mlp(net, [e, (h, i), (h, j)]).sum(), h)
    (g_old,) = torch.autograd.grad(net(torch.cat([e, h[i], h[j]], -1)).sum(), h)
    torch.testing.assert_close(g_new, g_old, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="widths \\[8, 16\\] for a layer of 40"):
        gathered_linear(net[0], [e, (h, i)])


def _cluster(n=13, seed=2):
    rng = np.random.default_rng(seed)
    return rng.normal(scale=2.0, size=(n, 3)), rng.normal(scale=0.01, size=(n, 3)), np.full(n, 78)


def _model(seed=3):
    torch.manual_seed(seed)  # untrained: its steps pump or drain energy freely
    return TrajectoryPredictor(PredictorConfig(width=16, layers=1)).double().eval()


def test_a_chain_held_on_its_learned_energy_searches_neighbours_once_per_step(monkeypatch):
    x, v, numbers = _cluster()
    searches = []
    real = predictor_module.neighbours

    def counted(*args):
        searches.append(1)
        return real(*args)

    monkeypatch.setattr(predictor_module, "neighbours", counted)
    chain(_model(), x, v, numbers, 10.0, 20)
    # the start's energy and first step share a graph; each step's end serves the next step
    assert len(searches) == 21


def test_a_chain_held_every_third_step_keeps_its_energy_at_those_steps():
    x, v, numbers = _cluster()
    model, masses = _model(), masses_of(numbers)
    xs, vs = chain(model, x, v, numbers, 10.0, 30, hold_every=3)
    pairs = zip(xs, vs, strict=True)
    totals = np.array(
        [potential_energy(model, a, numbers) + kinetic_energy(b, masses) for a, b in pairs]
    )
    held, between = totals[::3], np.delete(totals, np.s_[::3])
    np.testing.assert_allclose(held, totals[0], rtol=0, atol=1e-9 * abs(totals[0]))
    assert np.abs(between - totals[0]).max() > 1e-5, "between holds the energy moves"
    with pytest.raises(ValueError, match="hold_every: a positive number of steps, got 0"):
        chain(model, x, v, numbers, 10.0, 3, hold_every=0)


def test_a_float32_model_follows_the_float64_chain_under_a_float64_state():
    x, v, numbers = _cluster()
    model = _model()
    xs, vs = chain(model, x, v, numbers, 10.0, 10)
    single = TrajectoryPredictor(model.config)
    single.load_state_dict(model.state_dict())
    fx, fv = chain(single.float().eval(), x, v, numbers, 10.0, 10)
    assert fx.dtype == np.float64 and fv.dtype == np.float64
    np.testing.assert_allclose(fx, xs, rtol=0, atol=1e-5)  # Å
    np.testing.assert_allclose(fv, vs, rtol=0, atol=1e-6)  # Å/fs (thermal ~1e-2)
    # the state is the float64 input plus the float32 change, not a float32 position
    assert not np.array_equal(fx[-1], fx[-1].astype(np.float32).astype(np.float64))


def test_a_compiled_chain_is_the_eager_chain():
    x, v, numbers = _cluster()
    model = _model()
    xs, vs = chain(model, x, v, numbers, 10.0, 5)
    cx, cv = chain(model, x, v, numbers, 10.0, 5, compile=True)
    np.testing.assert_allclose(cx, xs, rtol=0, atol=1e-10)
    np.testing.assert_allclose(cv, vs, rtol=0, atol=1e-12)
