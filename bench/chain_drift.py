"""Does the direct predictor's force hold on its own chain's frames? (docs/results.md)

A held NVE chain visits configurations the training frames never showed. This bench runs one
chain of 10 fs steps from a held-out reference run's first frame, holding its energy on the
campaign's MLIP, and measures on every 10th frame of the chain, and of the reference run
beside it, the projection slope of the predictor's 10 fs velocity change on the MLIP's
force × 10 fs / m, the rms force, and the MLIP's mean potential energy. A slope well below the
reference frames' says the chain has left the region where the model learned its forces.

Usage: python bench/chain_drift.py --predictor P.pt --mlip M.pt --frames RUN.parquet [...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from hopformer.mlip.calculator import load_network
from hopformer.mlip.model import energy_forces
from hopformer.physics.md import masses_of
from hopformer.surrogates.evaluation import held_energy
from hopformer.surrogates.metrics import AMU_A2_FS2_IN_EV
from hopformer.surrogates.predictor import chain, predict
from hopformer.surrogates.runs import read_run
from hopformer.surrogates.training import load_surrogate

DT = 10.0  # fs


def measure(model, net, frames, velocities, numbers) -> tuple[float, float, float]:
    """(slope of the model's Δv on the MLIP's, rms MLIP force eV/Å, mean MLIP energy eV)."""
    masses = masses_of(numbers)[:, None]
    sums, forces, energies = np.zeros(2), [], []
    for x, v in zip(frames, velocities, strict=True):
        mlip = energy_forces(net, x, numbers)
        f = mlip["forces"].detach().numpy()
        true = f / (masses * AMU_A2_FS2_IN_EV) * DT  # eV/Å over amu is Å/fs² / AMU_A2_FS2_IN_EV
        dv = predict(model, x, v, numbers, DT)[1] - v
        sums += [(dv * true).sum(), (true * true).sum()]
        forces.append(np.sqrt((f * f).mean()))
        energies.append(float(mlip["energy"].detach()))
    return sums[0] / sums[1], float(np.mean(forces)), float(np.mean(energies))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--predictor", required=True, help="predictor model file")
    parser.add_argument("--mlip", required=True, help="the campaign's MLIP model file")
    parser.add_argument("--frames", nargs="+", required=True, help="held-out NVE cluster runs")
    parser.add_argument("--steps", type=int, default=300, help="chain length in 10 fs steps")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, _ = load_surrogate(args.predictor, "predictor")
    net = load_network(args.mlip)
    print("run                      frames     slope  rms F eV/Å  MLIP E eV")
    for path in args.frames:
        run = read_run(path, periodic=False)
        z, x0, v0 = run["numbers"], run["positions"][0], run["velocities"][0]
        with held_energy(args.mlip, z, x0) as energy:
            xs, vs = chain(model, x0, v0, z, DT, args.steps, None, energy)
        n = len(xs[::10])
        ref = run["positions"][::10][:n], run["velocities"][::10][:n]
        for label, (xf, vf) in (("reference", ref), ("chain", (xs[::10], vs[::10]))):
            slope, rms, e = measure(model, net, xf, vf, z)
            print(f"{Path(path).stem:24s} {label:9s} {slope:6.3f} {rms:10.3f} {e:10.2f}")


if __name__ == "__main__":
    main()
