"""Judging trajectory surrogates against reference MD, and the production training loop on a
toy: the reference judged against itself scores perfectly (and the reference potential
rescores its own energies), a known perturbation gives its own error, and the predictor's
trainer learns a harmonic toy trajectory."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hopformer.physics.clusters import bulk_cell
from hopformer.physics.md import md_speed
from hopformer.physics.potentials import open_engine
from hopformer.surrogates.evaluation import evaluate_predictor
from hopformer.surrogates.predictor import PredictorConfig, TrajectoryPredictor, chain
from hopformer.surrogates.rollouts import judge_rollout, kinetic_temperatures
from hopformer.surrogates.runs import TrajectorySpec, run_reference
from hopformer.surrogates.training import SurrogateTraining, train_predictor


def _run(atoms, potential, temperature=300.0):
    spec = TrajectorySpec(
        temperature,
        "nve",
        equilibrate_ps=0.3,
        length_ps=1.0,
        stride_fs=10.0,
        timestep_fs=1.0,
        seed=2,
    )
    engine = open_engine(atoms, potential)
    try:
        return run_reference(engine, spec)
    finally:
        engine.close()


@pytest.fixture(scope="module")
def al_run(al_potential):
    atoms = bulk_cell("Al", 2, 4.05)
    return atoms, _run(atoms, al_potential)


@pytest.fixture(scope="module")
def pt_run(pt_potential, disordered_pt55):
    atoms = disordered_pt55.copy()
    atoms.center(vacuum=10.0)
    atoms.pbc = False
    return atoms, _run(atoms, pt_potential)


@pytest.mark.parametrize("system", ["al_run", "pt_run"])
def test_the_reference_judged_against_itself_is_perfect(
    system, request, al_potential, pt_potential
):
    atoms, frames = request.getfixturevalue(system)
    periodic = system == "al_run"
    cell, potential = (atoms.cell.array, al_potential) if periodic else (None, pt_potential)
    x, v = frames["positions"], frames["velocities"]
    total = frames["potential_energy"] + frames["kinetic_energy"]
    summary, curves = judge_rollout(x, v, x, v, atoms.numbers, cell, 10.0, 300.0, potential, total)
    assert summary["position_error_pm_10fs"] == 0 and summary["position_error_pm_1000fs"] == 0
    assert summary["structure_l1"] == 0 and summary["vdos_l1"] == 0
    assert summary["msd_ratio"] == pytest.approx(1.0) and summary["vdos_peak_ratio"] == 1.0
    assert summary["vdos_mean_ratio"] == pytest.approx(1.0)
    # Pt and Al vibrate at a few THz
    assert 1.0 < summary["vdos_peak_thz_reference"] < 10.0, summary
    assert summary["stable_horizon_fs"] == len(x) * 10.0
    # The reference potential rescores the run's own energies (EAM + kinetic, eV): the judge's
    # units agree with the MD engine's.
    np.testing.assert_allclose(curves["energy_model"], total, rtol=0, atol=1e-6 * len(x[0]))
    assert summary["energy_drift_mev_atom_model"] == pytest.approx(
        summary["energy_drift_mev_atom_reference"], abs=1e-3
    )
    assert abs(summary["energy_drift_mev_atom_reference"]) < 0.1, "NVE conserves energy"
    assert md_speed(potential, atoms.numbers, x[0], v[0], cell, 1.0, ps=0.05) > 0


def test_a_known_displacement_is_the_error_reported(al_run):
    atoms, frames = al_run
    x, v = frames["positions"], frames["velocities"]
    shift = np.zeros_like(x)
    shift[1:, :, 0] = 0.01  # 1 pm along x for every atom after the start
    summary, _ = judge_rollout(x + shift, v, x, v, atoms.numbers, atoms.cell.array, 10.0, 300.0)
    assert summary["position_error_pm_10fs"] == pytest.approx(1.0)
    assert summary["position_error_pm_100fs"] == pytest.approx(1.0)
    heated, _ = judge_rollout(x, 3 * v, x, v, atoms.numbers, atoms.cell.array, 10.0, 300.0)
    assert heated["temperature_model_mean"] == pytest.approx(
        9 * heated["temperature_reference_mean"]
    )
    assert heated["stable_horizon_fs"] == 0.0, "9 × T is a temperature spike at once"
    with pytest.raises(ValueError, match="frames differ"):
        judge_rollout(x[:5], v[:5], x, v, atoms.numbers, atoms.cell.array, 10.0, 300.0)


def _harmonic_run(rng, pairs=4, k=1.0, mass=27.0, frames=81, dt=5.0):
    """Free dimers oscillating exactly (bond 2.5 Å): a run dict as read_run returns."""
    omega = np.sqrt(2 * k / mass * 1e-4 * 96.485)  # 1/fs
    axis = rng.normal(size=(pairs, 3))
    axis /= np.linalg.norm(axis, axis=1)[:, None]
    centres = np.arange(pairs)[:, None] * np.array([8.0, 0.0, 0.0])
    amp, phase = rng.uniform(0.05, 0.15, pairs), rng.uniform(0, 2 * np.pi, pairs)
    t = np.arange(frames) * dt
    q = amp * np.cos(omega * t[:, None] + phase)  # (F, pairs)
    p = -amp * omega * np.sin(omega * t[:, None] + phase)
    half = (2.5 + q)[..., None] / 2 * axis
    x = np.concatenate([centres - half, centres + half], axis=1)
    v = np.concatenate([-p[..., None] / 2 * axis, p[..., None] / 2 * axis], axis=1)
    return {
        "positions": x,
        "velocities": v,
        "numbers": np.full(2 * pairs, 13),
        "cell": None,
        "time_fs": t,
        "temperature": 300.0,
        "timestep_fs": 1.0,
        "potential_energy": 0.5 * k * (q**2).sum(1),  # eV: each bond's spring
    }


def test_the_predictor_trainer_learns_a_harmonic_toy_trajectory():
    rng = np.random.default_rng(3)
    runs = [_harmonic_run(rng, k=4.0) for _ in range(3)]
    config = PredictorConfig(horizon_fs=20.0, width=16, layers=2)
    # 600 steps, not 300: at 300 the 10 fs error ratio spread 0.13–0.70 over seeds 1–4 (a pass
    # was luck); at 600 it is 0.008–0.12 on every seed, well inside the 0.3 asked below.
    settings = SurrogateTraining(steps=600, batch_size=4, learning_rate=3e-3, seed=1)
    model, history = train_predictor(runs, config, 5.0, settings)
    assert history[-1]["loss"] < 0.2 * history[0]["loss"]
    test = _harmonic_run(np.random.default_rng(11), k=4.0)
    x, v = test["positions"], test["velocities"]
    for lag in (2, 4):  # 10 and 20 fs
        dt = lag * 5.0
        err = np.mean(
            [
                ((chain(model, x[t], v[t], test["numbers"], dt, 1)[0][1] - x[t + lag]) ** 2).mean()
                for t in range(0, 60, 5)
            ]
        )
        free = np.mean([((x[t] + dt * v[t] - x[t + lag]) ** 2).mean() for t in range(0, 60, 5)])
        assert err < 0.3 * free, (dt, err, free)
    xs, vs = chain(model, x[0], v[0], test["numbers"], 20.0, 100)
    assert np.isfinite(xs).all() and np.isfinite(vs).all()


def test_a_spun_cluster_keeps_its_temperature_and_shows_its_spin(pt_run):
    """The same frames with a rigid rotation added to every velocity: the verdict counts the
    vibrations' temperature (unchanged) and reports the rotation's share beside it."""
    atoms, frames = pt_run
    x, v = frames["positions"], frames["velocities"]
    r = x - x.mean(1, keepdims=True)  # one species: the centre of mass is the mean
    spun = v + np.cross(np.array([0.0, 0.0, 0.002]), r)  # rad/fs about z
    judged, _ = judge_rollout(x, spun, x, v, atoms.numbers, None, 10.0, 300.0)
    assert judged["temperature_model_mean"] == pytest.approx(
        judged["temperature_reference_mean"], rel=1e-6
    )
    assert judged["rotation_share_model"] > 0.5 > judged["rotation_share_reference"]


def test_the_long_chain_reports_its_temperature_beside_the_references_at_the_same_times(pt_run):
    """The chain of horizon steps is judged on the reference frames one horizon apart: the
    reference's temperature mean and swing are those frames' vibrational ones."""
    atoms, frames = pt_run
    run = dict(frames, numbers=atoms.numbers, ensemble="nve", temperature=300.0, timestep_fs=1.0)
    run["time_fs"] = np.arange(len(frames["positions"])) * 10.0
    run["total_energy"] = frames["potential_energy"] + frames["kinetic_energy"]
    model = TrajectoryPredictor(PredictorConfig(horizon_fs=50.0, width=8, layers=1)).double()
    summary, _ = evaluate_predictor(model, run, 10.0, 0.5, starts=2)
    t_ref, _ = kinetic_temperatures(
        frames["positions"][:51:5], frames["velocities"][:51:5], atoms.numbers, None
    )
    assert summary["long_step_fs"] == 50.0
    assert summary["long_temperature_reference_mean"] == pytest.approx(t_ref.mean(), rel=1e-9)
    assert summary["long_temperature_reference_std"] == pytest.approx(t_ref.std(), rel=1e-9)
    assert 0 < summary["long_temperature_reference_std"] < 0.5 * t_ref.mean()
    assert np.isfinite(summary["long_temperature_model_mean"])
    assert np.isfinite(summary["long_temperature_model_std"])


def test_the_long_chain_takes_any_multiple_of_the_stride_and_is_judged_at_its_own_steps(pt_run):
    """``long_step_fs`` below the horizon: the second chain steps 20 fs and is judged on every
    second reference frame (temperature, swing, spectrum, structure); a step that is not a
    multiple of the stride, or passes the horizon, is refused with both named."""
    atoms, frames = pt_run
    run = dict(frames, numbers=atoms.numbers, ensemble="nve", temperature=300.0, timestep_fs=1.0)
    run["time_fs"] = np.arange(len(frames["positions"])) * 10.0
    run["total_energy"] = frames["potential_energy"] + frames["kinetic_energy"]
    model = TrajectoryPredictor(PredictorConfig(horizon_fs=50.0, width=8, layers=1)).double()
    summary, _ = evaluate_predictor(model, run, 10.0, 0.5, starts=2, long_step_fs=20.0)
    t_ref, _ = kinetic_temperatures(
        frames["positions"][:51:2], frames["velocities"][:51:2], atoms.numbers, None
    )
    assert summary["long_step_fs"] == 20.0
    assert summary["long_temperature_reference_mean"] == pytest.approx(t_ref.mean(), rel=1e-9)
    assert summary["long_temperature_reference_std"] == pytest.approx(t_ref.std(), rel=1e-9)
    for key in ("long_vdos_mean_ratio", "long_vdos_l1", "long_structure_l1"):
        assert np.isfinite(summary[key]), key
    for bad, named in ((25.0, "multiple of the stride"), (60.0, "horizon \\(50 fs\\)")):
        with pytest.raises(ValueError, match=named):
            evaluate_predictor(model, run, 10.0, 0.5, starts=2, long_step_fs=bad)


def test_a_fast_long_chain_changes_the_long_chain_only(pt_run, monkeypatch):
    """``fast`` reaches the long chain alone: its model in float32, its hold every second step;
    the first chain and its figures are those of the plain evaluation."""
    import hopformer.surrogates.evaluation as evaluation

    atoms, frames = pt_run
    run = dict(frames, numbers=atoms.numbers, ensemble="nve", temperature=300.0, timestep_fs=1.0)
    run["time_fs"] = np.arange(len(frames["positions"])) * 10.0
    run["total_energy"] = frames["potential_energy"] + frames["kinetic_energy"]
    torch.manual_seed(0)
    model = TrajectoryPredictor(PredictorConfig(horizon_fs=50.0, width=8, layers=1)).double()
    plain, _ = evaluate_predictor(model, run, 10.0, 0.5, starts=2, long_step_fs=20.0)
    calls, real = [], evaluation.chain

    def spy(model, *args, **options):
        calls.append((next(model.parameters()).dtype, options["hold_every"]))
        return real(model, *args, **options)

    monkeypatch.setattr(evaluation, "chain", spy)
    fast = evaluation.FastChain(hold_every=2, float32=True)
    quick, _ = evaluate_predictor(model, run, 10.0, 0.5, starts=2, long_step_fs=20.0, fast=fast)
    assert calls == [(torch.float64, 1), (torch.float32, 2)]
    assert next(model.parameters()).dtype == torch.float64, "the caller's model is untouched"
    assert quick["temperature_model_mean"] == plain["temperature_model_mean"]
    assert quick["long_temperature_model_mean"] != plain["long_temperature_model_mean"]


def test_the_spectrums_mean_frequency_ratio_is_the_ratio_of_the_vibrations():
    """Atoms vibrating at 3 THz in the reference and 4.5 THz in the rollout: the power-weighted
    mean frequency of the VACF's spectrum reads 1.5, as does its main peak."""
    rng = np.random.default_rng(5)
    n, frames, dt = 6, 1001, 10.0
    sites = np.stack([np.arange(n) * 3.0, np.zeros(n), np.zeros(n)], 1)
    axes = rng.normal(size=(n, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    phase = rng.uniform(0, 2 * np.pi, n)
    t = np.arange(frames)[:, None, None] * dt

    def vibrate(thz):
        w = 2 * np.pi * thz / 1000.0  # rad/fs
        x = sites + 0.05 * np.sin(w * t + phase[:, None]) * axes
        v = 0.05 * w * np.cos(w * t + phase[:, None]) * axes
        return x, v

    (x, v), (rx, rv) = vibrate(4.5), vibrate(3.0)
    judged, _ = judge_rollout(x, v, rx, rv, np.full(n, 78), None, dt, 300.0)
    assert judged["vdos_mean_ratio"] == pytest.approx(1.5, rel=0.05)
    assert judged["vdos_peak_ratio"] == pytest.approx(1.5, rel=0.05)


def test_single_strides_measure_how_much_of_the_force_a_step_carries(al_run, monkeypatch):
    import hopformer.surrogates.evaluation as evaluation
    from hopformer.physics.structure import minimum_image
    from hopformer.surrogates.integrator import DisplacementIntegrator, IntegratorConfig

    atoms, frames = al_run
    run = {**frames, "numbers": atoms.numbers, "cell": atoms.cell.array}
    x, v, cell = run["positions"], run["velocities"], run["cell"]
    truth = {
        x[t].tobytes(): (minimum_image(x[t + 1] - x[t], cell), v[t + 1] - v[t])
        for t in range(len(x) - 1)
    }
    model = DisplacementIntegrator(IntegratorConfig(stride_fs=10.0)).double()
    for head in (model.node_out[-1], model.edge_out[-1]):  # no corrections: free flight
        head.weight.data.zero_()
        head.bias.data.zero_()
    free = evaluation.single_strides(model, run)
    assert free["single_error_pm"] == pytest.approx(free["free_flight_error_pm"])
    assert free["departure_slope"] == pytest.approx(0.0, abs=1e-12)
    assert free["velocity_change_slope"] == pytest.approx(0.0, abs=1e-12)
    # Al at 300 K leaves free flight by about a picometre in 10 fs
    assert 0.1 < free["free_flight_error_pm"] < 10, free

    def half_the_force(model, xt, vt, numbers, cell):
        dx, dv = truth[xt.tobytes()]
        return 10.0 * vt + 0.5 * (dx - 10.0 * vt), 0.5 * dv

    monkeypatch.setattr(evaluation, "integrator_step", half_the_force)
    half = evaluation.single_strides(model, run)
    assert half["departure_slope"] == pytest.approx(0.5)
    assert half["velocity_change_slope"] == pytest.approx(0.5)
    assert half["single_error_pm"] == pytest.approx(0.5 * free["free_flight_error_pm"])

    def newton(model, xt, vt, numbers, cell):
        return truth[xt.tobytes()]

    monkeypatch.setattr(evaluation, "integrator_step", newton)
    exact = evaluation.single_strides(model, run)
    assert exact["single_error_pm"] == pytest.approx(0.0, abs=1e-9)
    assert exact["velocity_change_slope"] == pytest.approx(1.0)
    assert exact["kinetic_gain_percent"] == pytest.approx(0.0, abs=1e-9)
    # free flight keeps each start's kinetic energy where the true stride changed it: its
    # gain is what the true strides lost, summed over the same 20 frames
    m, starts = atoms.get_masses()[:, None], np.linspace(0, len(x) - 2, 20).round().astype(int)
    lost = sum(((v[t] ** 2 - v[t + 1] ** 2) * m).sum() for t in starts)
    assert free["kinetic_gain_percent"] == pytest.approx(
        100 * lost / sum(((v[t] ** 2) * m).sum() for t in starts)
    )
