"""GNN displacement integrator: symmetries by construction, periodic images, a toy it learns."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase.build import bulk

from hopformer.physics.structure import neighbours
from hopformer.surrogates.integrator import (
    DisplacementIntegrator,
    IntegratorConfig,
    _tensors,
    predict,
    rollout,
)


@pytest.fixture(params=["plain", "galilean", "leapfrog"])
def model(request):
    torch.manual_seed(0)
    option = {} if request.param == "plain" else {request.param: True}
    config = IntegratorConfig(cutoff=4.5, width=16, layers=2, **option)
    return DisplacementIntegrator(config).double()


@pytest.fixture
def al32():
    atoms = bulk("Al", "fcc", a=4.05, cubic=True).repeat(2)
    rng = np.random.default_rng(1)
    x = atoms.positions + rng.normal(scale=0.1, size=(32, 3))
    v = rng.normal(scale=0.03, size=(32, 3))
    return x, v, atoms.numbers, atoms.cell.array


def test_outputs_rotate_and_translate_with_the_inputs(model, al32):
    x, v, numbers, cell = al32
    dx, dv = predict(model, x, v, numbers, cell)
    q, _ = np.linalg.qr(np.random.default_rng(2).normal(size=(3, 3)))  # a rotation or reflection
    shift = np.array([0.3, -1.2, 2.5])
    dx2, dv2 = predict(model, x @ q.T + shift, v @ q.T, numbers, cell @ q.T)
    np.testing.assert_allclose(dx2, dx @ q.T, atol=1e-5)
    np.testing.assert_allclose(dv2, dv @ q.T, atol=1e-5)
    assert np.abs(dx).max() > 1e-3, "a real output, not zeros"


def test_an_atom_in_another_periodic_image_changes_nothing(model, al32):
    x, v, numbers, cell = al32
    moved = x.copy()
    moved[5] += cell[0] - 2 * cell[2]  # the same atom, two images over
    moved[0] -= cell[1]
    i, j, s = neighbours(moved, cell, 4.5)
    assert len(i) == len(neighbours(x, cell, 4.5)[0])
    for a, b in zip(
        predict(model, x, v, numbers, cell), predict(model, moved, v, numbers, cell), strict=True
    ):
        np.testing.assert_allclose(a, b, atol=1e-10)


def test_permuting_atoms_permutes_the_outputs(model, al32):
    x, v, numbers, cell = al32
    perm = np.random.default_rng(3).permutation(32)
    dx, dv = predict(model, x, v, numbers, cell)
    dx2, dv2 = predict(model, x[perm], v[perm], numbers[perm], cell)
    np.testing.assert_allclose(dx2, dx[perm], atol=1e-10)
    np.testing.assert_allclose(dv2, dv[perm], atol=1e-10)


def test_the_taper_keeps_edges_whole_below_its_start_and_fades_them_to_zero_at_the_cutoff():
    r = torch.linspace(0.0, 6.0, 601, dtype=torch.float64)
    whole = DisplacementIntegrator(IntegratorConfig(cutoff=5.5))._smooth(r)
    # the original envelope: a cosine over the whole cutoff
    np.testing.assert_allclose(whole, 0.5 * (torch.cos(torch.pi * r.clamp_max(5.5) / 5.5) + 1))
    tapered = DisplacementIntegrator(IntegratorConfig(cutoff=5.5, taper_start=4.5))._smooth(r)
    assert torch.all(tapered[r <= 4.5] == 1.0)
    assert torch.all(tapered[r >= 5.5] == 0.0)
    assert torch.all(tapered.diff() <= 0), "monotone"
    assert tapered.diff().abs().max() < 0.02, "continuous on a 0.01 Å grid"
    # Pt's second shell (3.92 Å) keeps its full weight, which the whole-cutoff cosine of a
    # 4 Å graph nearly removes
    second = torch.tensor([3.92], dtype=torch.float64)
    small = DisplacementIntegrator(IntegratorConfig(cutoff=4.0))._smooth(second)
    assert small.item() < 0.01
    assert tapered[392].item() == 1.0


@pytest.mark.parametrize("start", [-0.1, 4.5, 5.0])
def test_a_taper_outside_the_cutoff_is_refused(start):
    with pytest.raises(ValueError, match="taper_start"):
        IntegratorConfig(cutoff=4.5, taper_start=start)


def _dimers(rng, n_pairs=4, box=30.0, k=1.0, mass=27.0, tau=10.0):
    """Harmonic dimers far apart in a periodic box, and their exact state after ``tau`` fs
    (bond length 2.5 Å, ω = √(2k/m) in 1/fs for k in eV/Å², m in amu)."""
    omega = np.sqrt(2 * k / mass * 1e-4 * 96.485)  # eV/(Å² amu) → 1/fs²: × 9.6485e-3
    centres = rng.uniform(0, box, size=(n_pairs, 3))
    axis = rng.normal(size=(n_pairs, 3))
    axis /= np.linalg.norm(axis, axis=1)[:, None]
    q0 = rng.normal(scale=0.1, size=n_pairs)  # stretch, Å
    p0 = rng.normal(scale=0.01, size=n_pairs)  # stretch rate, Å/fs
    drift = rng.normal(scale=0.01, size=(n_pairs, 3))  # centre-of-mass velocity
    q1 = q0 * np.cos(omega * tau) + p0 / omega * np.sin(omega * tau)
    p1 = -q0 * omega * np.sin(omega * tau) + p0 * np.cos(omega * tau)

    def state(q, p, t):
        half = (2.5 + q)[:, None] / 2 * axis
        c = centres + drift * t
        x = np.concatenate([c - half, c + half])
        v = np.concatenate([drift - p[:, None] / 2 * axis, drift + p[:, None] / 2 * axis])
        return x, v

    (x0, v0), (x1, v1) = state(q0, p0, 0.0), state(q1, p1, tau)
    return x0, v0, x1 - x0, v1 - v0, np.eye(3) * box


@pytest.mark.parametrize("option", [None, "tie_corrections", "galilean", "leapfrog"])
def test_a_tiny_model_learns_harmonic_dimers_and_its_rollout_stays_finite(option):
    torch.manual_seed(0)
    config = IntegratorConfig(cutoff=4.0, width=32, layers=2, **({option: True} if option else {}))
    model = DisplacementIntegrator(config).double()
    rng = np.random.default_rng(0)
    numbers = np.full(8, 13)
    data = [_dimers(rng) for _ in range(64)]
    batches = [
        (_tensors(x, v, numbers, cell, 4.0), torch.as_tensor(dx), torch.as_tensor(dv))
        for x, v, dx, dv, cell in data
    ]
    free_flight = np.mean([((d[2] - 10.0 * d[1]) ** 2).mean() for d in data])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(60):
        for inputs, dx, dv in batches:
            px, pv = model(*inputs)
            loss = ((px - dx) ** 2).mean() + 100 * ((pv - dv) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    test = [_dimers(rng) for _ in range(16)]
    err = np.mean(
        [((predict(model, x, v, numbers, c)[0] - dx) ** 2).mean() for x, v, dx, _, c in test]
    )
    assert err < 0.1 * free_flight, (err, free_flight)
    x, v, _, _, cell = test[0]
    xs, vs = rollout(model, x, v, numbers, cell, 100)
    assert np.isfinite(xs).all() and np.isfinite(vs).all()


def test_a_tied_stride_moves_positions_with_the_mean_of_the_velocities(al32):
    x, v, numbers, cell = al32
    torch.manual_seed(0)
    free = DisplacementIntegrator(IntegratorConfig(cutoff=4.5, width=16, layers=2)).double()
    tied = DisplacementIntegrator(
        IntegratorConfig(cutoff=4.5, width=16, layers=2, tie_corrections=True)
    ).double()
    tied.load_state_dict(free.state_dict())
    fx, fv = predict(free, x, v, numbers, cell)
    tx, tv = predict(tied, x, v, numbers, cell)
    np.testing.assert_allclose(tv, fv, atol=1e-12)  # the velocity change is the network's own
    np.testing.assert_allclose(tx, 10.0 * (v + 0.5 * tv), atol=1e-12)
    assert np.abs(tx - fx).max() > 1e-4, "the untied step's own displacement differs"
    # the momentum the tie keeps: the centre of mass moves by exactly τ V_cm
    m = np.full(32, 26.98)
    np.testing.assert_allclose(m @ tx / m.sum(), 10.0 * m @ v / m.sum(), atol=1e-12)


@pytest.mark.parametrize("galilean", [False, True])
def test_a_galilean_step_answers_a_common_velocity_with_free_flight_alone(al32, galilean):
    """Newton's step is unchanged by a velocity given to every atom: the atoms carry it along
    (Δx gains τ U) and nothing else changes. Only the galilean network does this by
    construction; the plain one reads absolute velocities."""
    x, v, numbers, cell = al32
    torch.manual_seed(0)
    config = IntegratorConfig(cutoff=4.5, width=16, layers=2, galilean=galilean)
    model = DisplacementIntegrator(config).double()
    common = np.array([0.02, -0.03, 0.01])  # Å/fs, a thermal speed
    dx, dv = predict(model, x, v, numbers, cell)
    dx2, dv2 = predict(model, x, v + common, numbers, cell)
    moved = np.abs(dx2 - (dx + 10.0 * common)).max() + np.abs(dv2 - dv).max()
    if galilean:
        assert moved < 1e-12, moved
        assert np.abs(dx - 10.0 * v).max() > 1e-4, "a real correction, not free flight"
    else:
        assert moved > 1e-5, moved


@pytest.mark.parametrize("leapfrog", [False, True])
def test_a_leapfrog_step_run_backwards_returns_to_its_start(al32, leapfrog):
    """Drift–kick–drift with a kick read from positions alone is reversible whatever the
    kick: from the end of a stride, velocities flipped, the next stride lands on the start
    with its velocities flipped. The plain network's step has no such property."""
    x, v, numbers, cell = al32
    torch.manual_seed(0)
    config = IntegratorConfig(cutoff=4.5, width=16, layers=2, leapfrog=leapfrog)
    model = DisplacementIntegrator(config).double()
    v = 0.3 * v  # 0.01 Å/fs: half a stride stays well inside the graph's reach
    dx, dv = predict(model, x, v, numbers, cell)
    back_x, back_v = predict(model, x + dx, -(v + dv), numbers, cell)
    missed = np.abs(x + dx + back_x - x).max() + np.abs(-(v + dv) + back_v + v).max()
    assert np.abs(dv).max() > 1e-4, "a real kick, not free flight"
    if leapfrog:
        # the graph is rebuilt at each end; an edge within a hair of the cutoff weighs ~0
        assert missed < 1e-6, missed
        np.testing.assert_allclose(dx, 10.0 * (v + 0.5 * dv), atol=1e-12)
    else:
        assert missed > 1e-3, missed
