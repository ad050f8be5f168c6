"""Attention weighed by the edge envelope (``smooth_attention``): the surrogates' outputs and
the predictor's learned energy change continuously as an atom crosses the cutoff, where a
plain softmax gives the entering edge its full share at once (docs/design.md §13)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase.build import bulk

from hopformer.surrogates.integrator import DisplacementIntegrator, IntegratorConfig, predict
from hopformer.surrogates.predictor import PredictorConfig, TrajectoryPredictor, potential_energy


def _jump(values) -> float:
    """The largest change between neighbouring points of a fine scan over the typical one:
    a continuous function of the scan keeps it small, a jump makes it huge."""
    steps = np.abs(np.diff(np.asarray(values), axis=0)).reshape(len(values) - 1, -1).max(1)
    return steps.max() / np.median(steps)


@pytest.mark.parametrize("smooth", [False, True])
def test_the_learned_energy_does_not_jump_as_an_atom_leaves_the_cluster(disordered_pt55, smooth):
    """One surface atom of Pt55 moved out radially in 2 mÅ steps until it has left every
    neighbour's cutoff. Measured: ratio 1.9 smooth, 1.8 × 10⁴ plain."""
    x, numbers = disordered_pt55.positions, disordered_pt55.numbers
    torch.manual_seed(0)
    config = PredictorConfig(horizon_fs=50.0, width=16, layers=2, smooth_attention=smooth)
    model = TrajectoryPredictor(config).double()
    centre = x.mean(0)
    far = np.argmax(np.linalg.norm(x - centre, axis=1))
    out = (x[far] - centre) / np.linalg.norm(x[far] - centre)
    energies = []
    for d in np.arange(0.0, 3.0, 0.002):
        y = x.copy()
        y[far] += d * out
        energies.append(potential_energy(model, y, numbers))
    assert (_jump(energies) < 20) == smooth, _jump(energies)


@pytest.mark.parametrize("smooth", [False, True])
def test_the_integrators_step_does_not_jump_as_an_atom_crosses_the_cutoff(smooth):
    """An Al crystal (periodic) with one atom moved along x to exactly where it enters another
    atom's cutoff sphere: the step on either side of that point (±1 nÅ) must agree as closely
    as two points 2 nÅ apart do, not by a share of what a 10 mÅ move changes. Measured:
    5.5e-11 against 2.6e-4 smooth; 4.2e-6 against 2.6e-4 plain."""
    atoms = bulk("Al", "fcc", a=4.05, cubic=True).repeat(2)
    cell = atoms.cell.array
    rng = np.random.default_rng(1)
    x0 = atoms.positions + rng.normal(scale=0.05, size=(32, 3))
    v = rng.normal(scale=0.01, size=(32, 3))
    cutoff = 4.5
    # the first d > 0.1 Å at which |x0[0] + d x̂ − x0[k] − image| = cutoff
    images = np.array(np.meshgrid(*[[-1, 0, 1]] * 3)).T.reshape(-1, 3) @ cell
    rel = (x0[0] - x0[1:])[:, None, :] - images[None]  # (31, 27, 3)
    b, c = rel[..., 0], (rel**2).sum(-1) - cutoff**2  # |rel + d x̂|² = cutoff²: d² + 2bd + c = 0
    disc = b * b - c
    root = np.sqrt(disc[disc >= 0])
    roots = np.concatenate([-b[disc >= 0] + root, -b[disc >= 0] - root])
    crossing = roots[roots > 0.1].min()
    torch.manual_seed(0)
    config = IntegratorConfig(cutoff=cutoff, taper_start=3.5, width=16, smooth_attention=smooth)
    model = DisplacementIntegrator(config).double()

    def step(d):
        x = x0.copy()
        x[0, 0] += d
        return np.concatenate(predict(model, x, v, atoms.numbers, cell))

    across = np.abs(step(crossing + 1e-9) - step(crossing - 1e-9)).max()
    moved = np.abs(step(crossing + 0.01) - step(crossing)).max()
    assert (across < 1e-3 * moved) == smooth, (across, moved)
