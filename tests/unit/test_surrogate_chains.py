"""What keeps the trajectory surrogates physical: chained (unrolled) losses, NVE chains read
backwards, momentum conserved by construction, the learned energy held along NVE chains
(docs/design.md §13)."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest
import torch
from ase.build import bulk

from hopformer.ml.loop import fingerprint
from hopformer.physics.md import masses_of
from hopformer.physics.potentials import score
from hopformer.surrogates.evaluation import held_energy
from hopformer.surrogates.integrator import (
    DisplacementIntegrator,
    IntegratorConfig,
    _tensors,
    rollout,
)
from hopformer.surrogates.metrics import AMU_A2_FS2_IN_EV
from hopformer.surrogates.predictor import (
    PredictorConfig,
    TrajectoryPredictor,
    chain,
    hold_energy,
    kinetic_energy,
    potential_energy,
)
from hopformer.surrogates.training import (
    SurrogateTraining,
    chain_loss,
    fingerprinted,
    share_stride,
    step_weights,
    train,
    train_predictor,
    window_frames,
    windows,
)

OMEGA = 0.05  # 1/fs: a 126 fs period, like a metal's vibrations


def _oscillator_run(frames=41, dt=5.0, ensemble="nve"):
    """One 1-D harmonic oscillator per atom, exact: x = A cos(ωt + φ), v = −Aω sin(ωt + φ)."""
    rng = np.random.default_rng(0)
    amp, phase = rng.uniform(0.05, 0.1, (3, 3)), rng.uniform(0, 2 * np.pi, (3, 3))
    t = np.arange(frames) * dt
    x = amp * np.cos(OMEGA * t[:, None, None] + phase)
    v = -amp * OMEGA * np.sin(OMEGA * t[:, None, None] + phase)
    potential = 0.5 * 27.0 * OMEGA**2 * (x**2).sum((1, 2)) * AMU_A2_FS2_IN_EV  # Al masses
    return {
        "positions": x,
        "velocities": v,
        "time_fs": t,
        "ensemble": ensemble,
        "potential_energy": potential,
    }


def _exact_step(dt):
    """The oscillator's exact propagator over ``dt``: a perfect surrogate."""
    c, s = np.cos(OMEGA * dt), np.sin(OMEGA * dt)
    return lambda x, v: (c * x + s / OMEGA * v, -OMEGA * s * x + c * v)


def test_windows_and_their_reversal_are_true_trajectories():
    run = _oscillator_run()
    fwd = windows(run, lag=2, unroll=3, reverse=True)
    assert len(fwd) == 2 * (41 - 6) and (0, -1) in fwd and (34, 1) in fwd
    assert len(windows(run, 2, 3, reverse=False)) == 41 - 6
    assert len(windows({**run, "ensemble": "langevin"}, 2, 3, True)) == 41 - 6, (
        "a Langevin trajectory is not time-reversible: none read backwards"
    )
    xs, vs = window_frames(run, 4, -1, lag=2, unroll=3)
    np.testing.assert_array_equal(xs, run["positions"][[10, 8, 6, 4]])
    np.testing.assert_array_equal(vs, -run["velocities"][[10, 8, 6, 4]])
    # Newton's equations map the reversed chain's frames onto each other exactly.
    step = _exact_step(10.0)
    for m in range(3):
        nx, nv = step(xs[m], vs[m])
        np.testing.assert_allclose(nx, xs[m + 1], atol=1e-12)
        np.testing.assert_allclose(nv, vs[m + 1], atol=1e-12)


def test_a_chain_loss_is_zero_for_the_exact_propagator_and_grows_with_a_biased_one():
    run = _oscillator_run()
    exact = _exact_step(10.0)
    for direction in (1, -1):
        frames = window_frames(run, 2, direction, lag=2, unroll=4)
        assert float(chain_loss(exact, *frames, "cpu")) < 1e-20
    # A propagator whose frequency is 5 % off: its error compounds along the chain, so a
    # longer chain scores it worse — what the unrolled loss lets training see.
    c, s, w = np.cos(0.0525 * 10), np.sin(0.0525 * 10), 0.0525
    biased = lambda x, v: (c * x + s / w * v, -w * s * x + c * v)  # noqa: E731
    one = float(chain_loss(biased, *window_frames(run, 2, 1, 2, 1), "cpu"))
    four = float(chain_loss(biased, *window_frames(run, 2, 1, 2, 4), "cpu"))
    assert one > 0 and four > 2.0 * one, (one, four)


def test_the_kinetic_term_scores_the_chains_kinetic_energy_not_its_velocities():
    run = _oscillator_run()
    frames = window_frames(run, 2, 1, lag=2, unroll=3)
    exact = _exact_step(10.0)
    masses = torch.tensor([27.0, 63.5, 27.0], dtype=torch.float64)
    # the exact propagator keeps every kinetic energy: no term
    assert float(chain_loss(exact, *frames, "cpu", kinetic=(5.0, masses))) < 1e-20
    # velocities 1 % too fast after a step (positions exact): the term is weight ×
    # ((1.01)² − 1)², whatever the masses; fed back along a chain, the excess compounds
    fast = lambda x, v: (exact(x, v)[0], 1.01 * exact(x, v)[1])  # noqa: E731
    single = window_frames(run, 2, 1, lag=2, unroll=1)
    plain = float(chain_loss(fast, *single, "cpu"))
    with_term = float(chain_loss(fast, *single, "cpu", kinetic=(5.0, masses)))
    assert with_term - plain == pytest.approx(5.0 * (1.01**2 - 1) ** 2, rel=1e-9)
    chained = float(chain_loss(fast, *frames, "cpu", kinetic=(5.0, masses)))
    assert chained - float(chain_loss(fast, *frames, "cpu")) > 2 * (with_term - plain)
    # velocities turned to the wrong direction at the right speed: no kinetic term, large error
    turned = lambda x, v: (exact(x, v)[0], -exact(x, v)[1])  # noqa: E731
    kept = float(chain_loss(turned, *single, "cpu"))
    assert kept > 0 and float(chain_loss(turned, *single, "cpu", kinetic=(5.0, masses))) == kept
    with pytest.raises(ValueError, match="kinetic_weight must be"):
        SurrogateTraining(kinetic_weight=-1.0)


def _al32():
    atoms = bulk("Al", "fcc", a=4.05, cubic=True).repeat(2)
    rng = np.random.default_rng(1)
    x = atoms.positions + rng.normal(scale=0.1, size=(32, 3))
    v = rng.normal(scale=0.03, size=(32, 3))
    return x, v, atoms.numbers, atoms.cell.array


@pytest.mark.parametrize("conserve", [True, False])
def test_momentum_is_conserved_by_construction_only_when_asked(conserve):
    x, v, numbers, cell = _al32()
    numbers = numbers.copy()
    numbers[::2] = 29  # two species: the masses must weigh the momentum
    torch.manual_seed(0)
    model = DisplacementIntegrator(IntegratorConfig(width=16, conserve_momentum=conserve))
    with torch.no_grad():
        dx, dv = model.double()(*_tensors(x, v, numbers, cell, 4.5))
    m = masses_of(numbers)[:, None]
    momentum_change = np.abs((m * dv.numpy()).sum(0)).max()
    com_step = (m * dx.numpy()).sum(0) / m.sum()
    expected = 10.0 * (m * v).sum(0) / m.sum()  # τ V_cm
    scale = np.abs(m * dv.numpy()).sum(0).max()
    if conserve:
        assert momentum_change < 1e-12 * scale
        np.testing.assert_allclose(com_step, expected, atol=1e-12)
    else:
        assert momentum_change > 1e-3 * scale, "the test could not tell the two apart"


def test_a_predictor_chain_keeps_the_cluster_momentum_for_a_thousand_steps():
    rng = np.random.default_rng(2)
    x = rng.normal(scale=2.0, size=(13, 3))
    v = rng.normal(scale=0.01, size=(13, 3))
    torch.manual_seed(1)
    model = TrajectoryPredictor(PredictorConfig(width=16, layers=1)).double().eval()
    xs, vs = chain(model, x, v, np.full(13, 78), 10.0, 1000)
    drift = np.abs(vs[-1].mean(0) - v.mean(0)).max()
    assert drift < 1e-12, drift
    np.testing.assert_allclose(xs[-1].mean(0), x.mean(0) + 10000.0 * v.mean(0), atol=1e-8)


def _periodic_toy(seed, frames=21):
    """Al32 atoms drifting freely (no forces) in a periodic cell: positions wrapped as an engine
    returns them, so a chain crosses the cell's faces."""
    x0, v, numbers, cell = _al32()
    v = np.random.default_rng(seed).normal(scale=0.02, size=v.shape)
    t = np.arange(frames) * 10.0
    x = x0 + t[:, None, None] * v
    x -= np.floor(x @ np.linalg.inv(cell)) @ cell
    return {
        "positions": x,
        "velocities": np.repeat(v[None], frames, 0),
        "numbers": numbers,
        "cell": cell,
        "time_fs": t,
        "ensemble": "nve",
    }


def test_an_unrolled_integrator_training_starts_at_the_free_flight_loss_and_learns():
    runs = [_periodic_toy(3)]
    config = IntegratorConfig(width=8, layers=1)
    settings = SurrogateTraining(steps=40, batch_size=2, learning_rate=3e-3, unroll=3, reverse=True)
    model, history = train(runs, config, settings)
    # Free flight is the exact answer: the learned corrections must shrink toward it.
    assert history[-1]["loss"] < 0.5 * history[0]["loss"], (history[0], history[-1])
    with pytest.raises(ValueError, match="unroll"):
        SurrogateTraining(unroll=0)


def test_the_kinetic_weight_enters_the_integrators_training_loss():
    runs = [_periodic_toy(3)]
    config = IntegratorConfig(width=8, layers=1)
    plain = SurrogateTraining(steps=2, batch_size=2, unroll=2, seed=1)
    _, a = train(runs, config, plain)
    _, b = train(runs, config, SurrogateTraining(**{**asdict(plain), "kinetic_weight": 100.0}))
    # the same samples and start: the untrained model's kinetic error adds to the loss
    assert b[0]["loss"] > a[0]["loss"], (a[0], b[0])


def test_an_unrolled_predictor_training_is_seeded():
    runs = [{**_oscillator_run(), "numbers": np.full(3, 13), "cell": None}]
    runs[0]["positions"] = runs[0]["positions"] + np.array([[0.0, 0, 0], [3, 0, 0], [0, 3, 0]])
    config = PredictorConfig(horizon_fs=10.0, width=8, layers=1)
    settings = SurrogateTraining(steps=6, batch_size=2, unroll=2, reverse=True, seed=4)
    _, a = train_predictor(runs, config, 5.0, settings)
    _, b = train_predictor(runs, config, 5.0, settings)
    assert [r["loss"] for r in a] == [r["loss"] for r in b]


def test_holding_the_energy_rescales_only_the_motion_about_the_centre_of_mass():
    rng = np.random.default_rng(5)
    masses = masses_of(np.array([78] * 5 + [29] * 5))
    v = rng.normal(scale=0.01, size=(10, 3)) + np.array([0.002, 0.0, -0.001])
    vcm = (masses[:, None] * v).sum(0) / masses.sum()
    target = 0.7 * kinetic_energy(v, masses)
    held = hold_energy(v, masses, target)
    assert kinetic_energy(held, masses) == pytest.approx(target, rel=1e-12)
    np.testing.assert_allclose((masses[:, None] * held).sum(0) / masses.sum(), vcm, atol=1e-15)
    # the direction of every atom's motion about the centre of mass is kept
    rel, rel_held = v - vcm, held - vcm
    np.testing.assert_allclose(rel_held / np.linalg.norm(rel_held), rel / np.linalg.norm(rel))
    # asked for less than the centre of mass alone carries: only that is left
    stopped = hold_energy(v, masses, 0.0)
    np.testing.assert_allclose(stopped, np.broadcast_to(vcm, v.shape), atol=1e-15)


def test_an_nve_chain_holds_the_learned_energy_and_a_langevin_chain_does_not():
    rng = np.random.default_rng(2)
    x = rng.normal(scale=2.0, size=(13, 3))
    v = rng.normal(scale=0.01, size=(13, 3))
    numbers = np.full(13, 78)
    masses = masses_of(numbers)
    torch.manual_seed(3)  # an untrained model: its steps pump or drain energy freely
    model = TrajectoryPredictor(PredictorConfig(width=16, layers=1)).double().eval()

    def learned_total(xs, vs):
        return np.array(
            [
                potential_energy(model, a, numbers) + kinetic_energy(b, masses)
                for a, b in zip(xs, vs, strict=True)
            ]
        )

    xs, vs = chain(model, x, v, numbers, 10.0, 50)
    totals = learned_total(xs, vs)
    np.testing.assert_allclose(totals, totals[0], rtol=0, atol=1e-9 * abs(totals[0]) + 1e-12)
    free = TrajectoryPredictor(PredictorConfig(width=16, layers=1, conserve_energy=False))
    free.load_state_dict(model.state_dict())
    fx, fv = chain(free.double().eval(), x, v, numbers, 10.0, 50)
    drift = np.ptp(learned_total(fx, fv))
    assert drift > 1e-4, "without the hold the same model's energy moves (the test can fail)"


def test_an_nve_chain_held_on_a_potential_keeps_that_potentials_total_energy(pt55, pt_potential):
    """The hold takes any energy of positions: on the reference EAM (one call per step), the
    chain's EAM energy plus kinetic energy stays at its start, which the learned hold of the
    same untrained weights does not."""
    x = pt55.positions
    v = np.random.default_rng(4).normal(scale=0.0011, size=x.shape)  # about 300 K
    numbers = pt55.numbers
    masses = masses_of(numbers)
    torch.manual_seed(5)
    model = TrajectoryPredictor(PredictorConfig(width=16, layers=1)).double().eval()

    def eam_total(xs, vs):
        energies = [e for e, _ in score(pt_potential, numbers, xs)]
        return np.array(energies) + [kinetic_energy(b, masses) for b in vs]

    with held_energy(pt_potential, numbers, x) as energy:
        xs, vs = chain(model, x, v, numbers, 2.0, 20, energy=energy)
    held = eam_total(xs, vs)
    kinetic = np.array([kinetic_energy(b, masses) for b in vs])
    assert (kinetic > 0).all(), "the held chain never ran out of kinetic energy to rescale"
    np.testing.assert_allclose(held, held[0], rtol=0, atol=1e-8 * abs(held[0]))
    lx, lv = chain(model, x, v, numbers, 2.0, 20)
    assert np.ptp(eam_total(lx, lv)) > 0.1, "the learned hold leaves the EAM energy free"


def test_an_integrator_rollout_held_on_a_potential_keeps_that_potentials_total_energy(
    al_potential,
):
    """The periodic integrator holds the same way: its Al32 rollout's EAM energy plus kinetic
    energy stays at its start, while the same weights unheld let it move. (Untrained weights
    climb the potential fast: three strides, while kinetic energy is left to rescale.)"""
    al = bulk("Al", "fcc", a=4.05, cubic=True).repeat(2)
    x, numbers, cell = al.positions, al.numbers, al.cell.array
    v = np.random.default_rng(6).normal(scale=0.006, size=x.shape)
    masses = masses_of(numbers)
    torch.manual_seed(7)
    model = DisplacementIntegrator(IntegratorConfig(10.0, 4.5, 8, 1)).double().eval()

    def eam_total(xs, vs):
        energies = [e for e, _ in score(al_potential, numbers, xs, cell)]
        return np.array(energies) + [kinetic_energy(b, masses) for b in vs]

    with held_energy(al_potential, numbers, x, cell) as energy:
        xs, vs = rollout(model, x, v, numbers, cell, 3, energy=energy)
    assert min(kinetic_energy(b - b.mean(0), masses) for b in vs) > 0.1
    held = eam_total(xs, vs)
    np.testing.assert_allclose(held, held[0], rtol=0, atol=1e-8 * abs(held[0]))
    fx, fv = rollout(model, x, v, numbers, cell, 3)
    assert np.ptp(eam_total(fx, fv)) > 0.01, "unheld, the same weights move the energy"


def _free_flight_loss(dt, amp=0.08):
    """Free flight's acceleration-unit loss over ``dt`` on oscillators x = A cos(ωt + φ) along
    x, phases spread evenly: ⟨e_x²⟩ = A²/2 [(1 − c)² + (ωΔt − s)²], ⟨e_v²⟩ = A²ω²/2 [s² + (1 − c)²],
    c = cos ωΔt, s = sin ωΔt, each mean over the three components."""
    c, s = np.cos(OMEGA * dt), np.sin(OMEGA * dt)
    ex2 = amp**2 / 2 * ((1 - c) ** 2 + (OMEGA * dt - s) ** 2) / 3
    ev2 = amp**2 * OMEGA**2 / 2 * (s**2 + (1 - c) ** 2) / 3
    return ex2 / (0.5 * dt * dt) ** 2 + ev2 / dt**2


def test_balanced_step_weights_are_the_inverse_free_flight_error_of_an_oscillator():
    n, amp, frame_dt = 12, 0.08, 5.0
    t = np.arange(60) * frame_dt
    phase = 2 * np.pi * np.arange(n) / n  # evenly spread: the phase averages are exact
    x = np.zeros((len(t), n, 3))
    v = np.zeros((len(t), n, 3))
    x[:, :, 0] = amp * np.cos(OMEGA * t[:, None] + phase)
    v[:, :, 0] = -amp * OMEGA * np.sin(OMEGA * t[:, None] + phase)
    nve = {"positions": x, "velocities": v, "time_fs": t, "ensemble": "nve"}
    runs = [nve, {**nve, "ensemble": "langevin"}]
    lags = (1, 2, 6, 12)  # 5, 10, 30 and 60 fs: up to half the 126 fs period
    data = [(r, s, 1, k, k * frame_dt, 1) for r in (0, 1) for k in lags for s in range(0, 40, 3)]
    weights = step_weights(runs, data)
    for ensemble in ("nve", "langevin"):
        for k in lags:
            expected = _free_flight_loss(frame_dt) / _free_flight_loss(k * frame_dt)
            assert weights[(ensemble, k * frame_dt)] == pytest.approx(expected, rel=1e-9)
    # the shortest step keeps its weight; scored as accelerations, longer ones err less
    assert weights[("nve", 5.0)] == pytest.approx(1.0)
    assert weights[("nve", 10.0)] < weights[("nve", 30.0)] < weights[("nve", 60.0)]
    still = {**nve, "velocities": 0 * v, "positions": np.repeat(x[:1], len(t), 0)}
    with pytest.raises(ValueError, match="free flight is exact on the nve runs at Δt 5 fs"):
        step_weights([still], [(0, 0, 1, 1, 5.0, 1)])


def test_balanced_steps_change_the_predictor_training():
    runs = [{**_oscillator_run(), "numbers": np.full(3, 13), "cell": None}]
    runs[0]["positions"] = runs[0]["positions"] + np.array([[0.0, 0, 0], [3, 0, 0], [0, 3, 0]])
    config = PredictorConfig(horizon_fs=20.0, width=8, layers=1, conserve_energy=False)
    plain = SurrogateTraining(steps=3, batch_size=2, seed=4)
    balanced = SurrogateTraining(steps=3, batch_size=2, seed=4, balance_steps=True)
    _, a = train_predictor(runs, config, 5.0, plain)
    _, b = train_predictor(runs, config, 5.0, balanced)
    # the first step scores the same samples with the same weights, the longer steps weighed up
    assert b[0]["loss"] > a[0]["loss"], (a, b)


def test_the_stride_share_repeats_the_shortest_steps_to_the_share_asked():
    # ten Δt of 10..100 fs, 30 samples each, as a 100 fs horizon of 10 fs strides builds them
    data = [(0, t, 1, k, 10.0 * k, 1) for k in range(1, 11) for t in range(30)]
    assert share_stride(data, 10.0, 0.0) is data
    half = share_stride(data, 10.0, 0.5)
    short = [d for d in half if d[4] == 10.0]
    assert len(short) / len(half) == pytest.approx(0.5, abs=0.02)
    assert set(short) == {d for d in data if d[4] == 10.0}  # repeats, nothing new
    assert [d for d in half if d[4] != 10.0] == [d for d in data if d[4] != 10.0]
    # a share below what the stride already has keeps every sample once
    assert share_stride(data, 10.0, 0.05) == data
    with pytest.raises(ValueError, match="stride_share must be in"):
        SurrogateTraining(stride_share=1.0)


def test_a_stride_share_changes_which_samples_the_predictor_trains_on():
    runs = [{**_oscillator_run(), "numbers": np.full(3, 13), "cell": None}]
    runs[0]["positions"] = runs[0]["positions"] + np.array([[0.0, 0, 0], [3, 0, 0], [0, 3, 0]])
    config = PredictorConfig(horizon_fs=20.0, width=8, layers=1, conserve_energy=False)
    plain = SurrogateTraining(steps=3, batch_size=2, seed=4)
    shared = SurrogateTraining(steps=3, batch_size=2, seed=4, stride_share=0.9)
    _, a = train_predictor(runs, config, 5.0, plain)
    _, b = train_predictor(runs, config, 5.0, shared)
    assert [h["loss"] for h in a] != [h["loss"] for h in b]


LATER_OPTIONS = ("stride_share", "kinetic_weight")


@pytest.mark.parametrize("option", LATER_OPTIONS)
def test_settings_at_a_later_options_default_keep_the_fingerprint_older_checkpoints_carry(option):
    """Checkpoints written before an option existed fingerprinted the settings without it: at
    its default they still match, and another value asks for a fresh training."""
    settings = SurrogateTraining(steps=3, batch_size=2, seed=4, unroll=2)
    before = {k: v for k, v in asdict(settings).items() if k not in LATER_OPTIONS}
    assert fingerprint(fingerprinted(settings)) == fingerprint(before)
    changed = SurrogateTraining(**{**asdict(settings), option: 0.5})
    assert fingerprint(fingerprinted(changed)) != fingerprint(before)
