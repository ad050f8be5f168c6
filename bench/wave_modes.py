"""Where a GNN integrator's rollout puts its motion, wave by wave (docs/design.md §13).

For each integrator model file given, against one held-out periodic reference run:

1. Single strides from frames spread over the run, resolved by wavevector shell
   k = 2π n·cell⁻ᵀ (|n|² = 1, 2, ...; the cell's longest waves first): the slope of the
   model's velocity change Δv(k) on the true one (1: the force in full at that wavelength),
   and γ, the part of its error along the wave's own velocity, per stride (γ > 0 pumps the
   wave, γ < 0 damps it; Newton's step has none).
2. A rollout from the run's first frame (held on the reference potential, as the campaign's
   evaluation holds it): each shell's kinetic energy |Σ_i √m_i v_i e^{ik·x_i}|² over the
   second half, model over reference (1: the reference's share of the motion).

Usage: python bench/wave_modes.py --frames RUN.parquet --potential bulk.eam.alloy MODEL.pt ...
(the surrogates campaign writes both under results/<campaign>/trajectory/).
"""

from __future__ import annotations

import argparse

import numpy as np

from hopformer.physics.md import masses_of
from hopformer.surrogates.evaluation import held_energy
from hopformer.surrogates.integrator import predict, rollout
from hopformer.surrogates.metrics import current_power
from hopformer.surrogates.runs import read_run
from hopformer.surrogates.training import frame_stride, load_surrogate

SHELLS = 6


def wavevectors(cell: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(|n|² per wavevector, wavevectors (K, 3) 1/Å) of the cell's first SHELLS shells."""
    n = np.array(
        [(a, b, c) for a in range(-3, 4) for b in range(-3, 4) for c in range(-3, 4)],
        dtype=float,
    )
    n2 = (n**2).sum(1)
    keep = (n2 > 0) & (n2 <= sorted(set(n2[n2 > 0]))[SHELLS - 1])
    return n2[keep], 2 * np.pi * n[keep] @ np.linalg.inv(cell).T


def single_strides(model, run, n2, ks, starts: int = 100) -> dict:
    x, v, numbers, cell = run["positions"], run["velocities"], run["numbers"], run["cell"]
    s = frame_stride(run, model.config.stride_fs)
    root_m = np.sqrt(masses_of(numbers))[:, None]
    sums = {shell: np.zeros(4) for shell in sorted(set(n2))}
    for t in np.linspace(0, len(x) - 1 - s, starts).round().astype(int):
        _, dv = predict(model, x[t], v[t], numbers, cell)
        phase = np.exp(1j * x[t] @ ks.T).T  # (K, N)
        true, mine, vel = (phase @ (root_m * a) for a in (v[t + s] - v[t], dv, v[t]))
        for shell, acc in sums.items():
            m = n2 == shell
            dot = lambda a, b, m=m: float(np.real((np.conj(a[m]) * b[m]).sum()))  # noqa: E731
            acc += [dot(true, mine), dot(true, true), dot(vel, mine - true), dot(vel, vel)]
    return {shell: (a[0] / a[1], a[2] / a[3]) for shell, a in sums.items()}


def shell_energy(xs, vs, numbers, n2, ks) -> dict:
    half = len(xs) // 2
    power = current_power(xs[half:], vs[half:], masses_of(numbers), ks)
    return {shell: float(power[n2 == shell].sum()) for shell in sorted(set(n2))}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+", help="integrator model files")
    p.add_argument("--frames", required=True, help="a held-out periodic reference run")
    p.add_argument("--potential", required=True, help="the reference potential (the hold)")
    p.add_argument("--strides", type=int, default=500, help="rollout length")
    args = p.parse_args()
    run = read_run(args.frames, periodic=True)
    numbers, cell = run["numbers"], run["cell"]
    n2, ks = wavevectors(cell)
    print(f"{args.frames}: {len(numbers)} atoms, shells |n|² = {sorted({int(a) for a in n2})}")
    refs = {}  # the reference's shell energies over the rollout's span, per frame stride
    for path in args.models:
        model, _ = load_surrogate(path, "integrator")
        fits = single_strides(model, run, n2, ks)
        s = frame_stride(run, model.config.stride_fs)
        x0 = run["positions"][0]
        with held_energy(args.potential, numbers, x0, cell) as energy:
            xs, vs = rollout(model, x0, run["velocities"][0], numbers, cell, args.strides, energy)
        if s not in refs:
            span = slice(0, (args.strides + 1) * s, s)
            refs[s] = shell_energy(run["positions"][span], run["velocities"][span], numbers, n2, ks)
        ref = refs[s]
        mine = shell_energy(xs, vs, numbers, n2, ks)
        print(f"\n{path}")
        print("  |n|²   |k| 1/Å   Δv slope   γ per stride   rollout KE / reference")
        for shell, (slope, gamma) in fits.items():
            k = float(np.linalg.norm(ks[n2 == shell][0]))
            print(
                f"  {int(shell):4d}   {k:7.3f}   {slope:8.3f}   {gamma:+12.4f}"
                f"   {mine[shell] / ref[shell]:10.2f}"
            )


if __name__ == "__main__":
    main()
