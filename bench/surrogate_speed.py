"""Speed of the surrogates against the reference MD they replace, on this machine.

1. MLIP: µs per atom per MD step (NVE, 2 fs) with ``HopformerPotential`` (float64, the default
   model size) against LAMMPS EAM on the same system — Pt55 and periodic Al108 — and the
   cost of one force call (float32 and float64).
2. Trajectory surrogates: wall seconds per simulated ps of a rollout — the GNN integrator on
   Al256 (10 fs strides), the direct predictor on Pt55 (10, 50 and 100 fs steps) — against the
   MD they are meant to replace, NVE on the project's MLIP (2 fs steps), and against LAMMPS
   EAM (the reference potential, not a competitor), same system, same run; both also with
   their NVE energy held on the MLIP (``trajectory.<surrogate>.hold: mlip``). The predictor's
   50 fs chain also as the fast chain runs it (``trajectory.predictor.long_float32``,
   ``long_compile``, ``long_hold_every``), and its speed-ups also against MD on the MLIP in
   float32, the MLIP's fastest on a CPU.

In section 1 ratios are MLIP / EAM (> 1: the MLIP is slower); in section 2 they are speed-ups,
reference time / surrogate time (> 1: the surrogate is faster). Weights are untrained: speed
does not depend on them. With CUDA, the force call is timed on the GPU too.
The fast chain's rows need weights that keep the cluster together (an untrained chain flies
apart, and its graph and cost with it): ``--predictor`` names a trained predictor's model
file for them; without one they run untrained and say so.
Usage: python bench/surrogate_speed.py [--threads 1] [--predictor MODEL]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from ase import units
from ase.build import bulk

from hopformer.ml.modelfile import save_model_file
from hopformer.mlip.calculator import mlip_engine
from hopformer.mlip.model import MlipConfig, MlipNetwork, energy_forces
from hopformer.physics.clusters import build_cluster
from hopformer.physics.eam import write_setfl
from hopformer.physics.md import md_speed
from hopformer.physics.zhou2004 import zhou_table
from hopformer.surrogates.evaluation import held_energy
from hopformer.surrogates.integrator import DisplacementIntegrator, IntegratorConfig, rollout
from hopformer.surrogates.predictor import PredictorConfig, TrajectoryPredictor, chain
from hopformer.surrogates.training import load_surrogate


def _mlip_model(tmp: Path) -> Path:
    """An MLIP model file of the default size (untrained)."""
    torch.manual_seed(0)
    model = MlipNetwork(MlipConfig())
    path = tmp / "model.pt"
    save_model_file(path, "mlip", model.config.to_dict(), model)
    return path


def _mlip_section(tmp: Path, path: Path) -> None:
    from hopformer.mlip.evaluation import speed

    pt_pot = write_setfl(zhou_table("Pt"), tmp / "Pt.eam.alloy")
    al_pot = write_setfl(zhou_table("Al"), tmp / "Al.eam.alloy")
    systems = {
        "Pt55": (build_cluster("Pt", "icosahedron", shells=3, lattice_constant=3.92), pt_pot),
        "Al108": (bulk("Al", "fcc", a=4.05, cubic=True).repeat(3), al_pot),
    }
    print("MLIP MD, µs per atom per step (NVE, 2 fs)")
    for name, (atoms, pot) in systems.items():
        mlip, eam = speed(str(path), atoms.copy(), steps=20), speed(str(pot), atoms.copy())
        print(f"  {name:6s} MLIP {mlip:9.1f}   EAM {eam:7.2f}   ratio {mlip / eam:8.0f}")
    atoms = systems["Pt55"][0]
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        for dtype in (torch.float32, torch.float64):
            m = MlipNetwork(MlipConfig()).to(device=device, dtype=dtype)
            energy_forces(m, atoms.positions, atoms.numbers)  # warm up
            start = time.perf_counter()
            for _ in range(10):
                energy_forces(m, atoms.positions, atoms.numbers)
            if device == "cuda":
                torch.cuda.synchronize()
            ms = (time.perf_counter() - start) / 10 * 1e3
            print(f"  force call Pt55 {device} {str(dtype)[6:]}: {ms:.1f} ms")


def _trajectory_section(tmp: Path, mlip: Path, trained: str | None) -> None:
    rng = np.random.default_rng(0)
    al_pot = write_setfl(zhou_table("Al"), tmp / "Al.eam.alloy")
    pt_pot = write_setfl(zhou_table("Pt"), tmp / "Pt.eam.alloy")
    al = bulk("Al", "fcc", a=4.05, cubic=True).repeat(4)
    v_al = rng.normal(scale=np.sqrt(300 * units.kB / 27.0) * units.fs, size=(len(al), 3))
    torch.manual_seed(0)
    integrator = DisplacementIntegrator(IntegratorConfig(10.0, 4.5, 32, 2)).double()
    start = time.perf_counter()
    rollout(integrator, al.positions, v_al, al.numbers, al.cell.array, 20)
    gnn = (time.perf_counter() - start) / 0.2
    ref = md_speed(str(al_pot), al.numbers, al.positions, v_al, al.cell.array, 2.0, 0.5)
    mlip_md = md_speed(str(mlip), al.numbers, al.positions, v_al, al.cell.array, 2.0, 0.02)
    print("Trajectory surrogates, wall s per simulated ps; speed-up = reference / surrogate")
    head = ("surrogate", "MLIP MD", "speed-up", "EAM MD", "speed-up")
    print(f"  {'':46s} {head[0]:>9s}" + "".join(f" {h:>8s}" for h in head[1:]))
    _row("Al256 GNN integrator (10 fs)", gnn, mlip_md, ref)
    with held_energy(str(mlip), al.numbers, al.positions, al.cell.array) as energy:
        start = time.perf_counter()
        rollout(integrator, al.positions, v_al, al.numbers, al.cell.array, 20, energy)
        held = (time.perf_counter() - start) / 0.2
    _row("Al256 GNN integrator (10 fs, MLIP hold)", held, mlip_md, ref)
    pt = build_cluster("Pt", "icosahedron", shells=3, lattice_constant=3.92)
    v_pt = rng.normal(scale=np.sqrt(300 * units.kB / 195.0) * units.fs, size=(len(pt), 3))
    ref = md_speed(str(pt_pot), pt.numbers, pt.positions, v_pt, None, 2.0, 1.0)
    mlip_md = md_speed(str(mlip), pt.numbers, pt.positions, v_pt, None, 2.0, 0.2)
    mlip32_md = md_speed(
        str(mlip),
        pt.numbers,
        pt.positions,
        v_pt,
        None,
        2.0,
        0.2,
        make_engine=mlip_engine(str(mlip), torch.float32),
    )
    print(f"  (MD on the MLIP in float32: {mlip32_md:.3f} s per ps)")
    # the schema's 4 Å graph, and the surrogates campaign's: 5.5 Å tapered from 4.5 Å (Pt's
    # second and third neighbour shells) with smooth attention (docs/design.md §13)
    campaign = PredictorConfig(cutoff=5.5, taper_start=4.5, smooth_attention=True)
    graphs = {"": PredictorConfig(), " 5.5 Å smooth": campaign}
    for label, config in graphs.items():
        predictor = TrajectoryPredictor(config).double()
        # 10 fs, and 50 fs: the longest step a leapfrog chain stays physical at (docs/results.md)
        for dt, segments in ((10.0, 50), (50.0, 20), (100.0, 10)):
            start = time.perf_counter()
            chain(predictor, pt.positions, v_pt, pt.numbers, dt, segments)
            wall = (time.perf_counter() - start) / (dt * segments / 1000)
            _row(f"Pt55 predictor{label} ({dt:g} fs)", wall, mlip_md, ref)
            # the same NVE chain holding its energy on the MLIP (hold: mlip): one call per step
            with held_energy(str(mlip), pt.numbers, pt.positions) as energy:
                start = time.perf_counter()
                chain(predictor, pt.positions, v_pt, pt.numbers, dt, segments, None, energy)
                wall = (time.perf_counter() - start) / (dt * segments / 1000)
            _row(f"Pt55 predictor{label} ({dt:g} fs, MLIP hold)", wall, mlip_md, ref)
    # the fast chain: float32 under a float64 state, compiled, held every few steps
    fast = load_surrogate(trained, "predictor")[0] if trained else TrajectoryPredictor(campaign)
    fast = fast.float()
    print(f"  fast chains: {'the predictor ' + trained if trained else 'untrained weights'}")
    for k in (1, 2, 4):
        for hold, label in ((None, "learned"), (str(mlip), "MLIP")):
            with held_energy(hold, pt.numbers, pt.positions) as energy:
                chain(fast, pt.positions, v_pt, pt.numbers, 50.0, 2, None, energy, k, True)
                start = time.perf_counter()
                chain(fast, pt.positions, v_pt, pt.numbers, 50.0, 200, None, energy, k, True)
                wall = (time.perf_counter() - start) / (50.0 * 200 / 1000)
            name = f"Pt55 fast chain (50 fs, {label} hold every {k})"
            _row(name, wall, mlip_md, ref)
            print(f"  {'':46s} {'':9s} {mlip32_md:8.3f} {mlip32_md / wall:7.1f}x  (float32 MLIP)")


def _row(name: str, surrogate: float, mlip_md: float, eam_md: float) -> None:
    print(
        f"  {name:46s} {surrogate:9.3f} {mlip_md:8.3f} {mlip_md / surrogate:7.1f}x"
        f" {eam_md:8.3f} {eam_md / surrogate:7.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--predictor", help="a trained predictor model file (fast chain rows)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        mlip = _mlip_model(Path(tmp))
        _mlip_section(Path(tmp), mlip)
        _trajectory_section(Path(tmp), mlip, args.predictor)


if __name__ == "__main__":
    main()
