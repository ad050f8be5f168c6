"""Validation cost: seconds and force calls per validated candidate (relax + NEB + Hessians).

A melt-quenched Pt147 (the production cluster) on one core. Each candidate is what a
one-surface-atom hint makes: the initial minimum with one surface atom moved to an empty
neighbouring site (``hopformer.transformer.evaluation.surface_hint``). Per candidate the bench times
what ``validate_shard`` does with it: the splicing quench, the state-identity test, then —
when it relaxed to a new minimum — ``validate_pair`` (end checks, climbing-image NEB split at
intermediate minima, Hessians at the minimum and the climbing image, Vineyard prefactor).
Target: ≤ 5 s per validated candidate. Baseline from the same run: one quench of the same
candidate, so the ratio says how many quenches a validation costs.

Force calls are counted at the backend: LAMMPS minimiser iterations of the quenches, one call
per image and FIRE step of a band (NEB), and the engine's other force calls (2 per coordinate
of each of the two Hessians, plus the end checks).
Usage: python bench/validate_cost.py [--candidates 4] [--shells 4]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from hopformer.physics import lammps_engine  # noqa: E402
from hopformer.physics.clusters import build_cluster  # noqa: E402
from hopformer.physics.eam import write_setfl  # noqa: E402
from hopformer.physics.potentials import open_engine  # noqa: E402
from hopformer.physics.relax import Relaxer
from hopformer.physics.states import quench  # noqa: E402
from hopformer.physics.zhou2004 import zhou_table  # noqa: E402
from hopformer.reference.cluster import melt  # noqa: E402
from hopformer.transformer.evaluation import surface_hint  # noqa: E402
from hopformer.validation.shard import ValidationConfig, validate_pair  # noqa: E402

CALLS: Counter = Counter()
_INSIDE_BAND = [False]  # a LammpsEAM (NEB image) call runs a LammpsEngine force call inside


def _count(cls, name: str, key: str, iterations: bool = False, band: bool = False) -> None:
    original = getattr(cls, name)

    def wrapped(self, *args, **kwargs):
        if band:
            _INSIDE_BAND[0] = True
        try:
            out = original(self, *args, **kwargs)
        finally:
            if band:
                _INSIDE_BAND[0] = False
        if band or not _INSIDE_BAND[0]:
            CALLS[key] += out.iterations if iterations else 1
        return out

    setattr(cls, name, wrapped)


# Engine force calls outside the bands: the two Hessians (6N each) and the end checks.
_count(lammps_engine.LammpsEngine, "forces", "hessian")
_count(lammps_engine.LammpsEngine, "minimize", "quench", iterations=True)
_count(lammps_engine.LammpsEAM, "calculate", "neb", band=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidates", type=int, default=8)
    ap.add_argument("--shells", type=int, default=4, help="icosahedron shells (4: Pt147)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        potential = write_setfl(zhou_table("Pt"), Path(tmp) / "Pt.eam.alloy")
        atoms = build_cluster("Pt", "icosahedron", shells=args.shells, lattice_constant=3.92)
        engine = open_engine(atoms, potential)
        melt(engine, 1600.0, 20.0, seed=1)
        x0 = quench(engine, restore=False).positions
        engine.close()
        x0 -= x0.mean(0)
        numbers = atoms.numbers
        judge = Relaxer(potential)
        config = ValidationConfig()
        rng = np.random.default_rng(7)
        quench_s, validate_s, calls, statuses = [], [], [], Counter()
        while len(validate_s) < args.candidates:
            hint = surface_hint(x0, rng)
            if hint is None:
                raise RuntimeError("no surface site found")
            cand = x0.copy()
            cand[hint[0]] = hint[1]
            CALLS.clear()
            t = time.perf_counter()
            res = judge.relax(cand, numbers)
            quench_s.append(time.perf_counter() - t)
            if not res.ok or judge.same(x0, res.positions, numbers):
                statuses["not a new minimum"] += 1
                continue
            out = validate_pair(judge, numbers, x0, res.positions, config)
            validate_s.append(time.perf_counter() - t)
            calls.append(dict(CALLS))
            statuses[out["neb_status"]] += 1
            print(
                f"candidate {len(validate_s)}: {validate_s[-1]:.2f} s, {dict(CALLS)},"
                f" {out['neb_status']}, Ea={out['barrier']}",
                flush=True,
            )
        judge.close()
    n = len(numbers)
    mean_q = float(np.mean(quench_s))
    mean_v = float(np.mean(validate_s))
    total = [sum(c.values()) for c in calls]
    print(f"\nPt{n}, one core, {len(validate_s)} validated candidates ({dict(statuses)})")
    print(f"  baseline: one quench of a candidate        {mean_q:8.3f} s")
    print(
        f"  validated candidate (relax + NEB + Hessians) {mean_v:8.3f} s   target ≤ 5 s"
        f"   {'MET' if mean_v <= 5 else 'NOT MET'}"
    )
    print(
        f"  median validated candidate                 {np.median(validate_s):8.3f} s,"
        f" slowest {max(validate_s):.1f} s"
    )
    print(f"  ratio validated / quench                   {mean_v / mean_q:8.1f}")
    for key in ("quench", "neb", "hessian"):
        print(f"  force calls, {key:8s} {np.mean([c.get(key, 0) for c in calls]):10.0f}")
    print(f"  force calls, total    {np.mean(total):10.0f}")


if __name__ == "__main__":
    main()
