"""Trajectory metrics: how a surrogate's trajectory compares with reference MD.

Pure functions of arrays, shared by the trajectory surrogates' evaluations:

* :func:`position_error` — per-frame atom position error against the reference, minimum image
  in a periodic cell;
* :func:`rdf` and :func:`rdf_l1` — the radial distribution function g(r) of a periodic cell
  (normalised by the ideal-gas pair density) and the L1 distance of two g(r);
* :func:`unwrap`, :func:`msd`, :func:`diffusion_coefficient` — mean squared displacement over
  time origins and D from its slope (Einstein: MSD = 6 D t);
* :func:`vacf`, :func:`vibrational_spectrum` — the normalised velocity autocorrelation and its
  power spectrum (the vibrational density of states up to normalisation);
* :func:`pair_distribution` — a free cluster's pair-distance distribution (its g(r));
* :func:`spectrum_peak` — the frequency of a vibrational spectrum's main peak;
* :func:`current_power`, :func:`longest_wave_share` — the motion each wave of a periodic cell
  carries, and how much of its equipartition share the cell's longest waves carry;
* :func:`temperature`, :func:`stable_horizon` — kinetic temperature, and the time until a
  rollout breaks (a temperature spike or two atoms closer than physically possible).

Shapes: a trajectory is (frames, N, 3); cells are (3, 3) with lattice vectors as rows (ASE).
Units: Å, fs, K; velocities Å/fs; masses amu; frequencies THz.
"""

from __future__ import annotations

import math

import numpy as np

from hopformer.physics.structure import minimum_image

#: 1 amu Å² fs⁻² in eV
AMU_A2_FS2_IN_EV = 1.66053906660e-27 * 1e-20 / 1e-30 / 1.602176634e-19
#: k_B in amu Å² fs⁻² K⁻¹: k_B / amu = 8314.46 m² s⁻² K⁻¹, and 1 m²/s² = 1e-10 Å²/fs².
K_B_AMU_A2_FS2 = 8.617333262e-5 * 1.602176634e-19 / 1.66053906660e-27 * 1e-10


def position_error(pred: np.ndarray, ref: np.ndarray, cell: np.ndarray | None = None) -> np.ndarray:
    """Per-frame RMS atom position error (Å) between two trajectories (frames, N, 3)."""
    d = minimum_image(np.asarray(pred, float) - np.asarray(ref, float), cell)
    return np.sqrt((d**2).sum(-1).mean(-1))


def rdf_reach(cell: np.ndarray) -> float:
    """Half the smallest height of the cell: the largest r a minimum-image g(r) can reach."""
    cell = np.asarray(cell, dtype=float)
    heights = abs(np.linalg.det(cell)) / np.linalg.norm(
        np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]]), axis=1
    )
    return float(heights.min() / 2)


def rdf(
    frames: np.ndarray, cell: np.ndarray, r_max: float, bins: int = 200
) -> tuple[np.ndarray, np.ndarray]:
    """(r, g(r)) of a periodic cell averaged over frames (minimum image, so ``r_max`` must
    not exceed half the shortest cell height)."""
    frames = np.asarray(frames, dtype=float).reshape(-1, *np.shape(frames)[-2:])
    cell = np.asarray(cell, dtype=float)
    volume = abs(np.linalg.det(cell))
    if r_max > rdf_reach(cell) + 1e-9:
        raise ValueError(
            f"rdf: r_max {r_max} Å exceeds half the cell's height ({rdf_reach(cell):.3f} Å)"
        )
    n = frames.shape[1]
    edges = np.linspace(0.0, r_max, bins + 1)
    counts = np.zeros(bins)
    iu = np.triu_indices(n, 1)
    for x in frames:
        d = minimum_image(x[iu[0]] - x[iu[1]], cell)
        counts += np.histogram(np.linalg.norm(d, axis=1), edges)[0]
    shell = 4.0 / 3.0 * math.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    ideal = len(frames) * n * (n - 1) / 2 / volume * shell
    return 0.5 * (edges[1:] + edges[:-1]), counts / ideal


def pair_distribution(
    frames: np.ndarray, r_max: float, bins: int = 140
) -> tuple[np.ndarray, np.ndarray]:
    """(r, p(r)) of a free cluster: the distribution of its pair distances up to ``r_max``,
    averaged over frames and normalised to unit area (the g(r) of a system with no volume)."""
    frames = np.asarray(frames, dtype=float).reshape(-1, *np.shape(frames)[-2:])
    iu = np.triu_indices(frames.shape[1], 1)
    d = np.linalg.norm(frames[:, iu[0]] - frames[:, iu[1]], axis=-1)
    p, edges = np.histogram(d, bins, (0.0, r_max), density=True)
    return 0.5 * (edges[1:] + edges[:-1]), p


def rdf_l1(g_a: np.ndarray, g_b: np.ndarray, r: np.ndarray) -> float:
    """L1 distance of two g(r) on one grid, relative to the second: ∫|g_a − g_b| dr / ∫ g_b dr."""
    dr = np.gradient(r)
    return float((np.abs(np.asarray(g_a) - g_b) * dr).sum() / (np.asarray(g_b) * dr).sum())


def unwrap(frames: np.ndarray, cell: np.ndarray | None) -> np.ndarray:
    """A continuous trajectory from one whose positions were wrapped into the cell: each step
    is taken as its minimum image (atoms move far less than half a cell per frame)."""
    frames = np.asarray(frames, dtype=float)
    steps = minimum_image(np.diff(frames, axis=0), cell)
    return np.concatenate([frames[:1], frames[:1] + np.cumsum(steps, axis=0)])


def msd(frames: np.ndarray, max_lag: int | None = None) -> np.ndarray:
    """MSD (Å²) at lags 0..max_lag frames of an unwrapped trajectory, averaged over atoms and
    every time origin."""
    frames = np.asarray(frames, dtype=float)
    max_lag = len(frames) - 1 if max_lag is None else max_lag
    return np.array(
        [
            ((frames[lag:] - frames[: len(frames) - lag]) ** 2).sum(-1).mean()
            for lag in range(max_lag + 1)
        ]
    )


def diffusion_coefficient(msd_values: np.ndarray, dt_fs: float, fit_from: float = 0.2) -> float:
    """D (Å²/fs) from a straight-line fit of MSD(t) = 6 D t + c over the lags after the first
    ``fit_from`` share (skipping the ballistic start). 1 Å²/fs = 0.1 cm²/s."""
    t = np.arange(len(msd_values)) * dt_fs
    start = int(fit_from * len(t))
    slope = np.polyfit(t[start:], msd_values[start:], 1)[0]
    return float(slope / 6.0)


def vacf(velocities: np.ndarray, max_lag: int | None = None) -> np.ndarray:
    """Normalised velocity autocorrelation C(t)/C(0) at lags 0..max_lag frames, averaged over
    atoms and time origins."""
    v = np.asarray(velocities, dtype=float)
    max_lag = len(v) - 1 if max_lag is None else max_lag
    c = np.array([(v[lag:] * v[: len(v) - lag]).sum(-1).mean() for lag in range(max_lag + 1)])
    return c / c[0]


def vibrational_spectrum(c: np.ndarray, dt_fs: float) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies in THz, power) of a VACF: the cosine transform of C(t) with a Hann window
    (so the finite length does not ring)."""
    c = np.asarray(c, dtype=float)
    window = np.hanning(2 * len(c))[len(c) :]
    # the cosine transform of the even extension of C(t): c₀ + 2 Σ_k c_k w_k cos(2π f k Δt)
    power = 2.0 * np.fft.rfft(c * window, n=8 * len(c)).real - c[0] * window[0]
    freq_thz = np.fft.rfftfreq(8 * len(c), d=dt_fs) * 1e3
    return freq_thz, power


def spectrum_peak(freq_thz: np.ndarray, power: np.ndarray, f_min: float = 0.5) -> float:
    """Frequency (THz) of a spectrum's highest local maximum above ``f_min`` (a liquid's
    diffusive power at 0 and its tail are not a vibration), refined by a parabola through the
    top bin and its neighbours; NaN when there is none."""
    f, p = np.asarray(freq_thz, float), np.asarray(power, float)
    inner = np.arange(1, len(p) - 1)
    peaks = inner[(p[inner] > p[inner - 1]) & (p[inner] >= p[inner + 1]) & (f[inner] >= f_min)]
    if not len(peaks):
        return float("nan")
    k = int(peaks[np.argmax(p[peaks])])
    a, b, c = p[k - 1], p[k], p[k + 1]
    return float(f[k] + 0.5 * (a - c) / (a - 2 * b + c) * (f[1] - f[0]))


def temperature(velocities: np.ndarray, masses: np.ndarray, constraints: int = 0) -> np.ndarray:
    """Kinetic temperature (K) per frame of velocities (frames, N, 3) or (N, 3); ``constraints``
    degrees of freedom removed (3 for a fixed centre of mass)."""
    v = np.asarray(velocities, dtype=float)
    m = np.asarray(masses, dtype=float)
    ke2 = (m[:, None] * v**2).sum((-1, -2))  # 2 × kinetic energy, amu Å²/fs²
    dof = 3 * v.shape[-2] - constraints
    return ke2 / (dof * K_B_AMU_A2_FS2)


def rigid_rotation(x: np.ndarray, v: np.ndarray, masses: np.ndarray) -> np.ndarray:
    """The velocities (N, 3) of the rigid rotation ω × r about the centre of mass that carries
    the whole angular momentum of a free cluster (I ω = L)."""
    w = masses[:, None]
    r = x - (w * x).sum(0) / masses.sum()
    ang = (w * np.cross(r, v)).sum(0)
    inertia = (
        w[..., None] * ((r * r).sum(1)[:, None, None] * np.eye(3) - r[:, :, None] * r[:, None])
    ).sum(0)
    return np.cross(np.linalg.pinv(inertia, hermitian=True) @ ang, r)  # a dimer: singular I


def internal_motion(
    positions: np.ndarray, velocities: np.ndarray, masses: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(velocities less the centre of mass's motion and the rigid rotation, the rotation's share
    of the kinetic energy about the centre of mass) of a free cluster's frames (F, N, 3): the
    vibrations a temperature counts once six degrees of freedom are removed."""
    w = masses[:, None]
    internal, share = [], []
    for x, v in zip(positions, velocities, strict=True):
        about = v - (w * v).sum(0) / masses.sum()
        spin = rigid_rotation(x, about, masses)
        internal.append(about - spin)
        total = (w * about**2).sum()
        share.append((w * spin**2).sum() / total if total > 0 else 0.0)
    return np.array(internal), np.array(share)


def stable_horizon(
    frames: np.ndarray,
    velocities: np.ndarray,
    masses: np.ndarray,
    dt_fs: float,
    reference_temperature: float,
    cell: np.ndarray | None = None,
    spike: float = 2.0,
    min_distance: float = 1.5,
) -> float:
    """Time (fs) of the first frame where the rollout breaks — its temperature exceeds
    ``spike`` × the reference temperature or two atoms come closer than ``min_distance`` Å —
    or the whole length if it never does."""
    t = temperature(velocities, masses)
    n = np.shape(frames)[1]
    iu = np.triu_indices(n, 1)
    for i, x in enumerate(np.asarray(frames, dtype=float)):
        closest = np.linalg.norm(minimum_image(x[iu[0]] - x[iu[1]], cell), axis=1).min()
        if t[i] > spike * reference_temperature or closest < min_distance:
            return i * dt_fs
    return len(frames) * dt_fs


def longest_wave_share(
    xs: np.ndarray, vs: np.ndarray, masses: np.ndarray, cell: np.ndarray, temperature_k: float
) -> float:
    """The mass-weighted current j(k) = Σ_i √m_i v_i e^{ik·x_i} of a periodic trajectory at
    the cell's longest waves, k = 2π n·cell⁻ᵀ with n = ±x̂, ±ŷ, ±ẑ: mean |j(k)|² / N over
    frames and those k, in units of 3 k_B T. In equilibrium every k carries exactly that
    (equipartition: independent thermal velocities give Σ_i m_i ⟨v_i²⟩ = 3 N k_B T), so 1 is
    a rollout that shares its energy fairly, and more is one that pumps its longest waves.
    NaN for a rollout with no motion (T ≤ 0), which has no share to compare."""
    if not temperature_k > 0:
        return float("nan")
    ks = 2 * np.pi * np.concatenate([np.eye(3), -np.eye(3)]) @ np.linalg.inv(cell).T
    power = current_power(xs, vs, masses, ks).mean() / np.shape(xs)[1]
    return float(power / (3 * K_B_AMU_A2_FS2 * temperature_k))


def current_power(xs: np.ndarray, vs: np.ndarray, masses: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """(K,) mean over frames of |j(k)|², j(k) = Σ_i √m_i v_i e^{ik·x_i}, at wavevectors ``ks``
    (K, 3) 1/Å: the (twice) kinetic energy each wave carries, amu Å²/fs²."""
    xs, vs = np.asarray(xs, float), np.asarray(vs, float)
    phase = np.exp(1j * xs @ np.asarray(ks, float).T)  # (F, N, K)
    j = np.einsum("fnk,fnd->fkd", phase, np.sqrt(np.asarray(masses, float))[:, None] * vs)
    return (np.abs(j) ** 2).sum(-1).mean(0)
