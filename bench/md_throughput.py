"""MD throughput: Pt147, Langevin 700 K, 2 fs — our engine vs a bare LAMMPS script, same run.

Prints atom-steps/s for both and their ratio (target ≥ 0.9). The engine runs in 1 ps blocks
(500 steps), reading positions back after each, as splicing segments do; the bare script runs
the same number of steps in one ``run``. Usage: python bench/md_throughput.py [--steps N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from ase.io import write

from hopformer.physics._lammps_import import new_instance
from hopformer.physics.clusters import build_cluster
from hopformer.physics.eam import write_setfl
from hopformer.physics.engine import Langevin
from hopformer.physics.lammps_engine import LammpsEngine
from hopformer.physics.zhou2004 import zhou_table


def bare_lammps(data: Path, potential: Path, steps: int) -> float:
    lmp = new_instance()
    for line in f"""
        units metal
        atom_style atomic
        boundary s s s
        read_data {data}
        pair_style eam/alloy
        pair_coeff * * {potential} Pt
        neighbor 1.0 bin
        neigh_modify every 1 delay 0 check yes
        timestep 0.002
        velocity all create 700 12345 mom yes rot yes
        fix 1 all nve
        fix 2 all langevin 700 700 0.1 4242 zero yes
        thermo 0
        run 100 post no
    """.strip().splitlines():
        lmp.command(line.strip())
    t = time.perf_counter()
    lmp.command(f"run {steps} post no")
    elapsed = time.perf_counter() - t
    lmp.close()
    return elapsed


def engine_run(atoms, potential: Path, steps: int, block: int) -> float:
    engine = LammpsEngine(atoms, potential)
    engine.thermalize(700.0, seed=1)
    integrator = Langevin(700.0, timestep_fs=2.0, damping_fs=100.0, seed=4242)
    engine.run(100, integrator)
    t = time.perf_counter()
    done = 0
    while done < steps:
        n = min(block, steps - done)
        engine.run(n, integrator)
        engine.get_positions()
        done += n
    elapsed = time.perf_counter() - t
    engine.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--block", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        potential = write_setfl(zhou_table("Pt"), Path(tmp) / "Pt.eam.alloy")
        atoms = build_cluster("Pt", "icosahedron", shells=4, lattice_constant=3.92)
        data = Path(tmp) / "pt147.data"
        write(data, atoms, format="lammps-data", specorder=["Pt"], masses=True)
        bare, ours = [], []
        for _ in range(args.repeats):  # interleaved, best of n: fair under machine noise
            bare.append(bare_lammps(data, potential, args.steps))
            ours.append(engine_run(atoms, potential, args.steps, args.block))
    n = len(atoms) * args.steps
    rate_bare, rate_ours = n / min(bare), n / min(ours)
    print(f"Pt{len(atoms)} Langevin 700 K, 2 fs, {args.steps} steps, best of {args.repeats}")
    for name, rate in (("bare LAMMPS script", rate_bare), ("hopformer engine", rate_ours)):
        print(f"{name:19s}: {rate / 1e6:7.3f} M atom-steps/s ({rate / len(atoms):8.0f} steps/s)")
    print(f"engine blocks      : {args.block} steps, positions read back after each")
    print(f"ratio engine/bare  : {rate_ours / rate_bare:.3f}  (target >= 0.9)")


if __name__ == "__main__":
    main()
