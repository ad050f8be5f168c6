"""The predictor's short steps driven by its learned energy (``force_from_energy``): the
velocity change is that energy's force, checked by finite differences, and with the tie a
short step is position Verlet on that energy, which conserves it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hopformer.physics.md import masses_of
from hopformer.physics.structure import neighbours
from hopformer.surrogates.integrator import kinetic_energy
from hopformer.surrogates.metrics import AMU_A2_FS2_IN_EV
from hopformer.surrogates.predictor import (
    PredictorConfig,
    TrajectoryPredictor,
    chain,
    potential_energy,
    predict,
)

BASE = dict(horizon_fs=50.0, width=16, layers=2, conserve_angular_momentum=False)


@pytest.fixture
def cluster(disordered_pt55):
    rng = np.random.default_rng(1)
    return disordered_pt55.positions, rng.normal(scale=0.02, size=(55, 3)), disordered_pt55.numbers


def _force(model, x, numbers, graph, h=1e-5):
    """−∇E (eV/Å) of the model's learned energy at ``x`` on the edges ``graph`` (the step's
    own, found at its start), by central differences."""
    i, j = (torch.as_tensor(a) for a in graph)
    z = torch.as_tensor(numbers)
    energy = lambda y: float(model.energy(torch.as_tensor(y), z, i, j))  # noqa: E731
    f = np.zeros_like(x)
    with torch.no_grad():
        for a in range(len(x)):
            for k in range(3):
                up, down = x.copy(), x.copy()
                up[a, k] += h
                down[a, k] -= h
                f[a, k] = energy(down) - energy(up)
    return f / (2 * h)


@pytest.mark.parametrize("tie", [False, True])
def test_a_short_steps_velocity_change_is_the_learned_energys_force_at_the_midpoint(cluster, tie):
    x, v, numbers = cluster
    torch.manual_seed(0)
    free = TrajectoryPredictor(PredictorConfig(**BASE, tie_corrections=tie)).double()
    forced = TrajectoryPredictor(
        PredictorConfig(**BASE, tie_corrections=tie, force_from_energy=True)
    ).double()
    forced.load_state_dict(free.state_dict())
    untied = TrajectoryPredictor(PredictorConfig(**BASE)).double()
    untied.load_state_dict(free.state_dict())
    masses = masses_of(numbers)[:, None]
    for dt in (5.0, 20.0):
        s = dt / 50.0
        _, fv = predict(free, x, v, numbers, dt)
        fx, nv = predict(forced, x, v, numbers, dt)
        graph = neighbours(x, None, forced.config.cutoff)[:2]
        kick = dt * _force(forced, x + 0.5 * dt * v, numbers, graph) / (masses * AMU_A2_FS2_IN_EV)
        np.testing.assert_allclose(nv - v, (1 - s) * kick + s * (fv - v), atol=1e-9)
        if tie:  # the positions follow the same velocity change, and the network's own fade in
            rest = fx - x - dt * v - (1 - s) * 0.5 * dt * (nv - v)
            ux = predict(untied, x, v, numbers, dt)[0]
            np.testing.assert_allclose(rest, s * (ux - x - dt * v), atol=1e-12)
    # at the horizon the step is the network's own: no energy gradient is taken
    np.testing.assert_allclose(
        predict(forced, x, v, numbers, 50.0)[1], predict(free, x, v, numbers, 50.0)[1], atol=1e-12
    )


def test_tied_short_steps_on_the_learned_energy_conserve_it(cluster):
    """Network corrections zeroed and the horizon far away: each step is position Verlet
    (drift ½Δt, kick Δt, drift ½Δt) on the learned energy, whose total then holds over a
    long chain while the potential and kinetic parts trade."""
    x, _, numbers = cluster
    v = np.random.default_rng(2).normal(scale=1.1e-3, size=x.shape)  # ~300 K for Pt
    torch.manual_seed(0)
    config = PredictorConfig(
        **{**BASE, "horizon_fs": 1e6},
        tie_corrections=True,
        force_from_energy=True,
        smooth_attention=True,  # a continuous energy (the test below)
        conserve_energy=False,
    )
    model = TrajectoryPredictor(config).double()
    with torch.no_grad():
        for head in (model.core.node_out[-1], model.core.edge_out[-1]):
            head.weight.zero_()
            head.bias.zero_()
        model.core.energy_out[-1].weight.mul_(300.0)  # forces of a metal's size (~eV/Å)
    masses = masses_of(numbers)
    xs, vs = chain(model, x, v, numbers, 2.0, 400)
    potential = np.array([potential_energy(model, y, numbers) for y in xs[::20]])
    kinetic = np.array([kinetic_energy(w, masses) for w in vs[::20]])
    total = potential + kinetic
    assert np.ptp(kinetic) > 0.03 * kinetic.mean()  # the force does work
    assert np.ptp(total) < 0.02 * np.ptp(kinetic), (np.ptp(total), np.ptp(kinetic))


@pytest.mark.parametrize("smooth", [False, True])
def test_smooth_attention_lets_an_atom_cross_the_cutoff_without_a_jump(cluster, smooth):
    """One atom moved out along a line until it leaves every neighbour's cutoff: the learned
    energy must change by no more than the step would suggest. A plain softmax gives an edge
    its full share as it enters, and the energy jumps there."""
    x, _, numbers = cluster
    torch.manual_seed(0)
    model = TrajectoryPredictor(PredictorConfig(**BASE, smooth_attention=smooth)).double()
    centre = x.mean(0)
    far = np.argmax(np.linalg.norm(x - centre, axis=1))  # a surface atom
    out = (x[far] - centre) / np.linalg.norm(x[far] - centre)
    energies = []
    for d in np.arange(0.0, 3.0, 0.002):
        y = x.copy()
        y[far] += d * out
        energies.append(potential_energy(model, y, numbers))
    steps = np.abs(np.diff(energies))
    # the largest change over a 2 mÅ step against the typical one: a jump stands out
    ratio = steps.max() / np.median(steps)
    assert (ratio < 20) == smooth, ratio
