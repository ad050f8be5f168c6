"""Direct trajectory predictor: symmetries, Δt = 0, the horizon, a toy it learns."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_integrator import _dimers

from hopformer.surrogates.predictor import (
    PredictorConfig,
    TrajectoryPredictor,
    chain,
    free_graph,
    predict,
)


@pytest.fixture
def model():
    torch.manual_seed(0)
    return TrajectoryPredictor(PredictorConfig(horizon_fs=50.0, width=16, layers=2)).double()


@pytest.fixture
def cluster(disordered_pt55):
    rng = np.random.default_rng(1)
    return disordered_pt55.positions, rng.normal(scale=0.02, size=(55, 3)), disordered_pt55.numbers


def test_predictions_rotate_and_translate_with_the_cluster(model, cluster):
    x, v, numbers = cluster
    nx, nv = predict(model, x, v, numbers, 20.0)
    q, _ = np.linalg.qr(np.random.default_rng(2).normal(size=(3, 3)))
    shift = np.array([5.0, -3.0, 1.0])
    nx2, nv2 = predict(model, x @ q.T + shift, v @ q.T, numbers, 20.0)
    np.testing.assert_allclose(nx2, nx @ q.T + shift, atol=1e-5)
    np.testing.assert_allclose(nv2, nv @ q.T, atol=1e-5)
    perm = np.random.default_rng(3).permutation(55)
    nx3, _ = predict(model, x[perm], v[perm], numbers[perm], 20.0)
    np.testing.assert_allclose(nx3, nx[perm], atol=1e-10)
    assert np.abs(nx - x - 20.0 * v).max() > 1e-4, "the network corrects free flight"


def test_zero_time_returns_the_input_and_beyond_the_horizon_is_refused(model, cluster):
    x, v, numbers = cluster
    nx, nv = predict(model, x, v, numbers, 0.0)
    np.testing.assert_array_equal(nx, x)
    np.testing.assert_array_equal(nv, v)
    with pytest.raises(ValueError, match="horizon"):
        predict(model, x, v, numbers, 60.0)
    i, j = free_graph(x, 4.0)
    assert len(i) == len(j) > 0 and not np.any(i == j)


def test_a_tiny_predictor_learns_harmonic_dimers_at_any_time_step():
    torch.manual_seed(0)
    model = TrajectoryPredictor(PredictorConfig(horizon_fs=40.0, width=32, layers=2)).double()
    rng = np.random.default_rng(0)
    numbers = np.full(8, 13)

    def sample(tau):
        x, v, dx, dv, _ = _dimers(rng, tau=tau)
        i, j = free_graph(x, 4.0)
        return [torch.as_tensor(a) for a in (x, v, numbers, i, j, dx, dv)] + [tau]

    data = [sample(tau) for tau in rng.choice([5.0, 10.0, 20.0, 40.0], size=96)]
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(25):
        for x, v, z, i, j, dx, dv, tau in data:
            nx, nv = model(x, v, z, i, j, tau)
            weight = (40.0 / tau) ** 2  # every Δt counts: short steps have small errors
            loss = weight * (((nx - x - dx) ** 2).mean() + 100 * ((nv - v - dv) ** 2).mean())
            opt.zero_grad()
            loss.backward()
            opt.step()
    for tau in (10.0, 30.0):  # 30 fs was never a training step
        test = [_dimers(rng, tau=tau) for _ in range(16)]
        err = np.mean([((predict(model, x, v, numbers, tau)[0] - x - dx) ** 2).mean()
                       for x, v, dx, _, _ in test])  # fmt: skip
        free = np.mean([((tau * v - dx) ** 2).mean() for _, v, dx, _, _ in test])
        assert err < 0.2 * free, (tau, err, free)
    x, v, *_ = _dimers(rng)
    xs, vs = chain(model, x, v, numbers, 40.0, 50)
    assert np.isfinite(xs).all() and np.isfinite(vs).all()
