"""Splicing throughput: worker-count scaling and a segment job's overhead over bare LAMMPS.

1. Scaling: simulated ps per wall second of `hopformer run-segments` jobs (the real CLI, as
   Snakemake runs them: start-up, dephasing, segments, shards) with 1 job vs 2 concurrent
   jobs on this machine. Target ≥ 1.8× on 2 cores.
2. Overhead: the same worker in-process against a bare LAMMPS loop doing the same MD steps
   and the same quenches (run a block; save x, v; CG to fmax/10 with FIRE polish; restore x, v)
   with none of our code (state tests, alignment, rows). Target ≥ 0.9.

System: melt-quenched Pt55 (the default campaign's), Langevin 700 K, 2 fs, 1 ps blocks.
Usage: python bench/splice_scaling.py [--ps 200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import ctypes
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import write

from hopformer.physics._lammps_import import new_instance
from hopformer.physics.clusters import build_cluster
from hopformer.physics.eam import write_setfl
from hopformer.physics.potentials import open_engine
from hopformer.physics.states import quench
from hopformer.physics.zhou2004 import zhou_table
from hopformer.reference.cluster import melt
from hopformer.splicing.segments import SegmentSpec, Worker, WorkerId

T = 700.0


def make_cluster(tmp: Path) -> tuple[Path, Path]:
    potential = write_setfl(zhou_table("Pt"), tmp / "Pt.eam.alloy")
    atoms = build_cluster("Pt", "icosahedron", shells=3, lattice_constant=3.92)
    engine = open_engine(atoms, potential)
    melt(engine, 1600.0, 20.0, seed=2026)
    q = quench(engine, restore=False)
    atoms.set_positions(q.positions)
    atoms.calc = SinglePointCalculator(atoms, energy=q.energy)
    write(tmp / "cluster.extxyz", atoms)
    return potential, tmp / "cluster.extxyz"


def jobs_wall(n_jobs: int, potential: Path, cluster: Path, ps: float, tmp: Path) -> float:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    hopformer = Path(sys.executable).with_name("hopformer")
    cmds = [
        [
            str(hopformer),
            "run-segments",
            "--potential",
            str(potential),
            "--start",
            str(cluster),
            "--campaign",
            "bench",
            "--round",
            "0",
            "--worker",
            str(w),
            "--seed",
            "1",
            "--temperature",
            str(T),
            "--segments-per-worker",
            "4",
            "--segment-ps",
            str(ps / 4),
            "--segments-out",
            str(tmp / f"s{w}.parquet"),
            "--transitions-out",
            str(tmp / f"t{w}.parquet"),
        ]
        for w in range(n_jobs)
    ]
    t = time.perf_counter()
    procs = [subprocess.Popen(c, env=env, stdout=subprocess.DEVNULL) for c in cmds]
    if any(p.wait() != 0 for p in procs):
        raise RuntimeError("a run-segments job failed")
    return time.perf_counter() - t


def worker_in_process(potential: Path, cluster: Path, ps: float) -> tuple[float, int, float]:
    """Wall seconds of a worker's run, its MD blocks (dephasing included), simulated ps."""
    from ase.io import read

    atoms = read(cluster)
    engine = open_engine(atoms, potential)
    spec = SegmentSpec(temperature=T, segments=4, segment_ps=ps / 4)
    worker = Worker(engine, spec, WorkerId("bench", 0, 0), 1, "sha", log=lambda m: None)
    t = time.perf_counter()
    segments, _ = worker.run(atoms.positions)
    wall = time.perf_counter() - t
    engine.close()
    md_ps = sum(s["duration_ps"] + s["dephase_ps"] for s in segments)
    return wall, round(md_ps / spec.block_ps), md_ps


def bare_lammps(potential: Path, cluster: Path, blocks: int) -> float:
    """The same MD blocks and per-block quenches as a bare LAMMPS loop."""
    from ase.io import read

    atoms = read(cluster)
    lmp = new_instance()
    pos = atoms.positions
    lo, hi = pos.min(0) - 2.0, pos.max(0) + 2.0
    for line in [
        "units metal",
        "atom_style atomic",
        "atom_modify map array sort 0 0.0",
        "boundary s s s",
        f"region box block {lo[0]} {hi[0]} {lo[1]} {hi[1]} {lo[2]} {hi[2]} units box",
        "create_box 1 box",
    ]:
        lmp.command(line)
    n = len(atoms)
    lmp.create_atoms(n, list(range(1, n + 1)), [1] * n, pos.ravel().tolist())
    for line in [
        f"mass 1 {atoms.get_masses()[0]}",
        "pair_style eam/alloy",
        f"pair_coeff * * {potential} Pt",
        "neighbor 1.0 bin",
        "neigh_modify every 1 delay 0 check yes",
        "thermo 0",
        "timestep 0.002",
        f"velocity all create {T} 12345 mom yes rot yes",
        "fix 1 all nve",
        f"fix 2 all langevin {T} {T} 0.1 4242 zero yes",
    ]:
        lmp.command(line)

    def gather(name):
        return np.ctypeslib.as_array(lmp.gather_atoms(name, 1, 3)).copy()

    def scatter(name, values):
        arr = np.ascontiguousarray(values)
        lmp.scatter_atoms(name, 1, 3, arr.ctypes.data_as(ctypes.POINTER(ctypes.c_double)))

    t = time.perf_counter()
    for _ in range(blocks):
        lmp.command("run 500 post no")
        x, v = gather("x"), gather("v")
        lmp.command("min_style cg")
        lmp.command("min_modify norm max")
        lmp.command("minimize 0.0 1e-4 20000 200000")
        f = gather("f").reshape(-1, 3)
        if np.sqrt((f**2).sum(1)).max() > 1e-3:
            lmp.command("min_style fire")
            lmp.command("minimize 0.0 1e-4 20000 200000")
        scatter("x", x)
        scatter("v", v)
    wall = time.perf_counter() - t
    lmp.close()
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ps", type=float, default=200.0, help="simulated ps per job")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        potential, cluster = make_cluster(tmp)
        one, two, ours, bare = [], [], [], []
        for _ in range(args.repeats):  # interleaved, best of n: fair under machine noise
            one.append(jobs_wall(1, potential, cluster, args.ps, tmp))
            two.append(jobs_wall(2, potential, cluster, args.ps, tmp))
            wall, blocks, md_ps = worker_in_process(potential, cluster, args.ps)
            ours.append(wall)
            bare.append(bare_lammps(potential, cluster, blocks))
    rate1, rate2 = args.ps / min(one), 2 * args.ps / min(two)
    print(
        f"Pt55 melt-quenched, Langevin {T:g} K, 2 fs, 1 ps blocks, {args.ps:g} ps per job, "
        f"best of {args.repeats}, {os.cpu_count()} cores"
    )
    print(f"1 job             : {rate1:6.1f} simulated ps / wall s ({min(one):.2f} s)")
    print(f"2 concurrent jobs : {rate2:6.1f} simulated ps / wall s ({min(two):.2f} s)")
    print(f"scaling 2 vs 1    : {rate2 / rate1:.2f}x  (target >= 1.8)")
    print(f"worker in-process : {md_ps / min(ours):6.1f} ps/s over {blocks} blocks with quenches")
    print(f"bare LAMMPS loop  : {md_ps / min(bare):6.1f} ps/s, same blocks and quenches")
    print(f"ratio worker/bare : {min(bare) / min(ours):.3f}  (target >= 0.9)")


if __name__ == "__main__":
    main()
