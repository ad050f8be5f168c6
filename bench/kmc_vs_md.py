"""KMC residence times against MD's, on the showcase cluster (docs/design.md §9).

Langevin MD of a Pt140 truncated octahedron with 2 adatoms (Zhou EAM) at ``--temperature``
for ``--md-ps``, quenched every ``--block-ps``: every state is registered with the
state-identity test and every stay in it timed until the quench sees another state. States of
one energy (to ``--energy-tol`` eV) are symmetry images of each other on this cluster (an
adatom on equivalent sites; energy alone is degenerate to 1e-10 eV there, docs/design.md §3)
and escape at the same rates, so stays are pooled per energy class. For each class MD left
at least ``--min-exits`` times, the kinetics stage's search job (displacement and dimer
finders, ``--proposals`` each, ``--searches`` seeds) builds the process table of one member,
and the KMC's mean residence time 1/Σk (hTST rates of the valid processes) is printed beside
MD's mean stay with its standard error. MD cannot see a return within one block, so its
stays are a lower bound on the exits it missed; the simulated time per wall second of both
is printed too.

Usage: python bench/kmc_vs_md.py [--temperature 300] [--md-ps 2000] [--min-exits 20]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from hopformer.kinetics.finders import FinderConfig  # noqa: E402
from hopformer.kinetics.search import Known, SearchJob, search_state  # noqa: E402
from hopformer.physics.clusters import add_adatoms, build_cluster  # noqa: E402
from hopformer.physics.eam import write_setfl  # noqa: E402
from hopformer.physics.engine import Langevin  # noqa: E402
from hopformer.physics.htst import htst_rate  # noqa: E402
from hopformer.physics.potentials import open_engine  # noqa: E402
from hopformer.physics.relax import Relaxer  # noqa: E402
from hopformer.physics.states import quench, same_state  # noqa: E402
from hopformer.physics.zhou2004 import zhou_table  # noqa: E402
from hopformer.validation.pair import ValidationConfig  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--temperature", type=float, default=300.0)
    ap.add_argument("--md-ps", type=float, default=2000.0)
    ap.add_argument("--block-ps", type=float, default=1.0)
    ap.add_argument("--min-exits", type=int, default=20)
    ap.add_argument("--proposals", type=int, default=48)
    ap.add_argument("--searches", type=int, default=2)
    ap.add_argument("--energy-tol", type=float, default=2e-3)
    args = ap.parse_args()
    T = args.temperature
    with tempfile.TemporaryDirectory() as tmp:
        pot = Path(tmp) / "Pt.eam.alloy"
        write_setfl(zhou_table("Pt"), pot)
        atoms = add_adatoms(
            build_cluster("Pt", "truncated_octahedron", length=6, cutoff=1), 2, seed=1
        )
        numbers = atoms.numbers
        engine = open_engine(atoms, pot)
        q = quench(engine, restore=False)
        states, energies, stays = [q.positions], [q.energy], {0: []}
        current, since = 0, 0.0
        engine.thermalize(T, seed=3)
        steps = round(args.block_ps * 500)
        t0 = time.perf_counter()
        for block in range(int(args.md_ps / args.block_ps)):
            engine.run(steps, Langevin(T, 2.0, 100.0, seed=11 + block))
            r = quench(engine)
            x = r.positions
            if same_state(states[current], x, numbers):
                continue
            now = (block + 1) * args.block_ps
            stays[current].append(now - since)
            since = now
            hit = next((i for i, s in enumerate(states) if same_state(s, x, numbers)), None)
            if hit is None:
                states.append(x)
                energies.append(r.energy)
                hit = len(states) - 1
                stays[hit] = []
            current = hit
        md_wall = time.perf_counter() - t0
        engine.close()
        print(
            f"MD at {T:g} K: {args.md_ps:g} ps in {md_wall:.0f} s "
            f"({args.md_ps / md_wall:.1f} ps/s), {sum(map(len, stays.values()))} exits, "
            f"{len(states)} states"
        )
        relaxer = Relaxer(pot)
        validation = ValidationConfig(neb_steps=600)
        print(
            f"\n{'state':>5}{'MD exits':>9}{'MD τ ps':>10}{'± s.e.':>8}{'KMC τ ps':>10}"
            f"{'ratio':>7}{'processes':>10}{'search s':>9}"
        )
        classes: dict[int, list[int]] = {}
        for sid in stays:
            rep = next(
                (c for c in classes if abs(energies[c] - energies[sid]) < args.energy_tol), sid
            )
            classes.setdefault(rep, []).append(sid)
        print(
            "energy classes (members, MD exits):",
            [(len(m), sum(len(stays[i]) for i in m)) for m in classes.values()],
        )
        for sid, members in classes.items():
            durations = [d for i in members for d in stays[i]]
            if len(durations) < args.min_exits:
                continue
            res = relaxer.relax(states[sid], numbers)
            events, known = [], []
            t1 = time.perf_counter()
            for seed in range(args.searches):
                job = SearchJob(0, 0, sid, numbers, res.positions, res.energy, seed)
                config = FinderConfig(proposals=args.proposals)
                ev, _ = search_state(
                    job, known, ["displacement", "dimer"], relaxer, config, validation
                )
                for e in ev:
                    if e["kind"] == "new":
                        known.append(
                            Known(
                                len(known),
                                np.reshape(e["final_positions"], (-1, 3)),
                                e["final_energy"],
                            )
                        )
                        events.append(e)
            rates = [
                htst_rate(e["prefactor_thz"], e["barrier"], T)
                for e in events
                if e["neb_status"] == "ok"
            ]
            tau_kmc = 1 / sum(rates) if rates else float("inf")
            d = np.array(durations)
            tau, err = d.mean(), d.std(ddof=1) / np.sqrt(len(d))
            print(
                f"{sid:>5}{len(d):>9}{tau:>10.1f}{err:>8.1f}{tau_kmc:>10.1f}"
                f"{tau_kmc / tau:>7.2f}{len(rates):>10}{time.perf_counter() - t1:>9.0f}"
            )
        relaxer.close()


if __name__ == "__main__":
    main()
