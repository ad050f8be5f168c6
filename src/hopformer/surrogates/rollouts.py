"""Judging a surrogate's trajectory against the reference MD started from the same state — one
verdict for both trajectory surrogates.

:func:`judge_rollout` compares a rollout (positions, velocities every ``dt_fs``) with the
reference frames over the same times: RMS position error at 10 fs, 100 fs, 1 ps and 10 ps
(where reached), structure (g(r) of a periodic cell, the pair-distance distribution of a
free cluster; L1 distance), MSD and D, the VACF's vibrational spectrum (peak frequency and
L1 distance), temperature and its drift (of a free cluster: of its vibrations, beside the
share of its kinetic energy in rigid rotation; of a periodic cell, the share of the motion its
longest waves carry), the total energy scored by the reference
potential and its drift, and the stable horizon. The reference MD's own speed from the same
state is :func:`hopformer.physics.md.md_speed`.
"""

from __future__ import annotations

import numpy as np

from hopformer.physics.md import masses_of
from hopformer.physics.potentials import score
from hopformer.surrogates.metrics import (
    AMU_A2_FS2_IN_EV,
    diffusion_coefficient,
    internal_motion,
    longest_wave_share,
    msd,
    pair_distribution,
    position_error,
    rdf,
    rdf_l1,
    rdf_reach,
    spectrum_peak,
    stable_horizon,
    temperature,
    unwrap,
    vacf,
    vibrational_spectrum,
)

#: times (fs) at which the position error is reported, where the rollout reaches them
ERROR_MARKS_FS = (1.0, 10.0, 100.0, 1000.0, 10000.0)
#: at most this many frames are scored by the reference potential
ENERGY_FRAMES = 200


def structure(frames: np.ndarray, cell: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(r, g) of a periodic cell, or a free cluster's pair-distance distribution."""
    if cell is not None:
        return rdf(frames, cell, min(6.0, rdf_reach(cell)), 120)
    return pair_distribution(frames, 14.0, 140)


def total_energies(
    potential: str, numbers: np.ndarray, cell: np.ndarray | None, xs: np.ndarray, vs: np.ndarray
) -> np.ndarray:
    """Potential (reference potential) + kinetic energy (eV) of each frame (NaN for a frame
    a broken rollout made non-finite)."""
    potential_energy = np.array([e for e, _ in score(potential, numbers, xs, cell)])
    ke = 0.5 * (masses_of(numbers)[None, :, None] * vs**2).sum((1, 2))  # amu Å²/fs²
    return potential_energy + ke * AMU_A2_FS2_IN_EV


def kinetic_temperatures(
    xs: np.ndarray, vs: np.ndarray, numbers: np.ndarray, cell: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """(temperature per frame in K, share of the kinetic energy in rigid rotation or None):
    a periodic cell's with its centre of mass removed (3 degrees of freedom), a free
    cluster's of its vibrations alone (6 removed), not its spin."""
    masses = masses_of(numbers)
    if cell is not None:
        return temperature(vs, masses, 3), None
    internal, spin = internal_motion(np.asarray(xs, float), np.asarray(vs, float), masses)
    return temperature(internal, masses, 6), spin


def judge_rollout(
    xs: np.ndarray,
    vs: np.ndarray,
    ref_x: np.ndarray,
    ref_v: np.ndarray,
    numbers: np.ndarray,
    cell: np.ndarray | None,
    dt_fs: float,
    reference_temperature: float,
    potential: str | None = None,
    reference_energy: np.ndarray | None = None,
) -> tuple[dict, dict]:
    """(summary, curves) of a rollout ``xs, vs`` (F, N, 3) against reference frames at the
    same times; ``potential`` scores total energies (``reference_energy``: the reference's
    own, per frame)."""
    xs, vs, ref_x, ref_v = (np.asarray(a, float) for a in (xs, vs, ref_x, ref_v))
    if xs.shape != ref_x.shape:
        raise ValueError(f"rollout {xs.shape} and reference {ref_x.shape} frames differ")
    n_frames, n = xs.shape[:2]
    ux, uref = unwrap(xs, cell), unwrap(ref_x, cell)
    err = position_error(ux, uref) * 100.0  # pm
    summary: dict = {
        "frames": n_frames,
        "dt_fs": dt_fs,
        "simulated_ps": (n_frames - 1) * dt_fs / 1000,
    }
    for mark in ERROR_MARKS_FS:
        k = mark / dt_fs
        if abs(k - round(k)) < 1e-9 and 1 <= round(k) < n_frames:
            summary[f"position_error_pm_{mark:g}fs"] = float(err[round(k)])
    half = n_frames // 2
    r, g_model = structure(xs[half:], cell)
    _, g_ref = structure(ref_x[half:], cell)
    summary["structure_l1"] = rdf_l1(g_model, g_ref, r)
    lag = max(1, half)
    m_model, m_ref = msd(ux, lag), msd(uref, lag)
    summary.update(
        msd_end_model=float(m_model[-1]),
        msd_end_reference=float(m_ref[-1]),
        msd_ratio=float(m_model[-1] / m_ref[-1]) if m_ref[-1] > 0 else None,
    )
    if lag >= 5:
        d_model, d_ref = (diffusion_coefficient(m, dt_fs) * 0.1 for m in (m_model, m_ref))
        summary.update(diffusion_cm2_s_model=d_model, diffusion_cm2_s_reference=d_ref)
    f, p_model = vibrational_spectrum(vacf(vs, lag), dt_fs)
    _, p_ref = vibrational_spectrum(vacf(ref_v, lag), dt_fs)
    peak_model, peak_ref = spectrum_peak(f, p_model), spectrum_peak(f, p_ref)
    summary.update(
        vdos_peak_thz_model=peak_model,
        vdos_peak_thz_reference=peak_ref,
        vdos_peak_ratio=peak_model / peak_ref,
        # the power-weighted mean frequency: where the main peak is one of several near-equal
        # ones, this says which way the whole spectrum moved
        vdos_mean_ratio=float(
            (f * p_model).sum() / p_model.sum() / ((f * p_ref).sum() / p_ref.sum())
        ),
        vdos_l1=rdf_l1(p_model / p_model.sum(), p_ref / p_ref.sum(), f),
    )
    t_model, spin_model = kinetic_temperatures(xs, vs, numbers, cell)
    t_ref, spin_ref = kinetic_temperatures(ref_x, ref_v, numbers, cell)
    if cell is None:
        summary.update(
            rotation_share_model=float(spin_model.mean()),
            rotation_share_reference=float(spin_ref.mean()),
        )
    else:  # over the second half, each at its own temperature
        masses = masses_of(numbers)
        summary.update(
            longest_wave_share_model=longest_wave_share(
                xs[half:], vs[half:], masses, cell, t_model[half:].mean()
            ),
            longest_wave_share_reference=longest_wave_share(
                ref_x[half:], ref_v[half:], masses, cell, t_ref[half:].mean()
            ),
        )
    tenth = max(1, n_frames // 10)
    summary.update(
        temperature_model_mean=float(t_model.mean()),
        temperature_reference_mean=float(t_ref.mean()),
        temperature_model_drift=float(t_model[-tenth:].mean() - t_model[:tenth].mean()),
        stable_horizon_fs=stable_horizon(
            xs, vs, masses_of(numbers), dt_fs, reference_temperature, cell
        ),
    )
    curves = {
        "time_fs": np.arange(n_frames) * dt_fs,
        "position_error_pm": err,
        "msd_model": m_model,
        "msd_reference": m_ref,
        "temperature_model": t_model,
        "temperature_reference": t_ref,
        "r": r,
        "rdf_model": g_model,
        "rdf_reference": g_ref,
        "frequency_thz": f,
        "vdos_model": p_model,
        "vdos_reference": p_ref,
    }
    if potential is not None:
        every = max(1, -(-n_frames // ENERGY_FRAMES))
        e_model = total_energies(potential, numbers, cell, xs[::every], vs[::every])
        summary["energy_drift_mev_atom_model"] = float((e_model[-1] - e_model[0]) / n * 1e3)
        summary["energy_spread_mev_atom_model"] = float(np.ptp(e_model) / n * 1e3)
        if reference_energy is not None:
            e_ref = np.asarray(reference_energy, float)[::every]
            summary["energy_drift_mev_atom_reference"] = float((e_ref[-1] - e_ref[0]) / n * 1e3)
            summary["energy_spread_mev_atom_reference"] = float(np.ptp(e_ref) / n * 1e3)
        curves["energy_time_fs"] = curves["time_fs"][::every]
        curves["energy_model"] = e_model
    return summary, curves
