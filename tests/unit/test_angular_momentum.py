"""A free cluster's angular momentum along the direct predictor's NVE chains: conserved by
construction in each step, and kept by the energy hold (docs/design.md §13). Without it a
chain spins the cluster up until its vibrations have frozen into rigid rotation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from hopformer.physics.md import masses_of
from hopformer.surrogates.integrator import hold_energy, kinetic_energy
from hopformer.surrogates.metrics import rigid_rotation
from hopformer.surrogates.predictor import (
    PredictorConfig,
    TrajectoryPredictor,
    chain,
    keep_angular_momentum,
)

NUMBERS = np.array([78] * 7 + [29] * 6)  # two species: the masses must weigh the moments


def _angular_momentum(x, v, masses):
    r = x - (masses[:, None] * x).sum(0) / masses.sum()
    return (masses[:, None] * np.cross(r, v)).sum(0)


def _cluster(seed):
    rng = np.random.default_rng(seed)
    return rng.normal(scale=2.0, size=(13, 3)), rng.normal(scale=0.01, size=(13, 3))


def test_keeping_the_angular_momentum_takes_away_one_rigid_rotation_and_no_momentum():
    masses = masses_of(NUMBERS)
    x0, v0 = _cluster(1)
    x1, v1 = _cluster(2)
    out = keep_angular_momentum(
        *(torch.as_tensor(a) for a in (x0, v0, x1, v1)), torch.as_tensor(masses)
    ).numpy()
    before = _angular_momentum(x0, v0, masses)
    assert np.abs(_angular_momentum(x1, v1, masses) - before).max() > 1e-2, "a real change"
    np.testing.assert_allclose(_angular_momentum(x1, out, masses), before, atol=1e-12)
    np.testing.assert_allclose(
        (masses[:, None] * out).sum(0), (masses[:, None] * v1).sum(0), atol=1e-12
    )
    # what was taken is ω × r for one ω: the rigid rotation carrying that angular momentum
    taken = v1 - out
    np.testing.assert_allclose(rigid_rotation(x1, taken, masses), taken, atol=1e-12)


def test_an_nve_chain_keeps_the_clusters_angular_momentum_only_when_asked():
    masses = masses_of(NUMBERS)
    x, v = _cluster(3)
    torch.manual_seed(4)  # untrained weights: their steps exert spurious torques
    model = TrajectoryPredictor(PredictorConfig(width=16, layers=1)).double().eval()
    xs, vs = chain(model, x, v, NUMBERS, 10.0, 200)
    start = _angular_momentum(x, v, masses)
    moments = [_angular_momentum(a, b, masses) for a, b in zip(xs, vs, strict=True)]
    drift = np.abs(np.array(moments) - start).max()
    assert drift < 1e-10 * np.abs(start).max(), drift
    model.config = dataclasses.replace(model.config, conserve_angular_momentum=False)
    fx, fv = chain(model, x, v, NUMBERS, 10.0, 200)
    free = np.abs(_angular_momentum(fx[-1], fv[-1], masses) - start).max()
    assert free > 1e-3 * np.abs(start).max(), "the same weights unconstrained spin it (can fail)"


def test_the_hold_keeps_a_spinning_clusters_rotation_and_rescales_its_vibrations():
    masses = masses_of(NUMBERS)
    x, vib = _cluster(5)
    r = x - (masses[:, None] * x).sum(0) / masses.sum()
    spin = np.cross(np.array([0.0, 0.0, 0.004]), r)  # rad/fs about z
    v = vib + spin + np.array([0.001, 0.0, 0.0])
    target = 0.8 * kinetic_energy(v, masses)
    held = hold_energy(v, masses, target, x)
    assert kinetic_energy(held, masses) == pytest.approx(target, rel=1e-12)
    np.testing.assert_allclose(
        _angular_momentum(x, held, masses), _angular_momentum(x, v, masses), atol=1e-12
    )
    np.testing.assert_allclose(
        (masses[:, None] * held).sum(0), (masses[:, None] * v).sum(0), atol=1e-12
    )
    # without the positions the whole motion about the centre of mass shrinks, spin included
    shrunk = _angular_momentum(x, hold_energy(v, masses, target), masses)
    assert np.abs(shrunk - _angular_momentum(x, v, masses)).max() > 1e-3
