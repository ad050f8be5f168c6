"""The ``hopformer`` command line: one subcommand per workflow rule."""

from __future__ import annotations

import argparse
import json
import sys

from hopformer.physics.clusters import SHAPES
from hopformer.physics.eam import PotentialFileError


def _make_potential(args: argparse.Namespace) -> None:
    from hopformer.reference import make_potential

    path = make_potential(args.out, source=args.source, element=args.element, nr=args.nr,
                          nrho=args.nrho, cutoff=args.cutoff)  # fmt: skip
    print(f"wrote {path}")


def _relax_cluster(args: argparse.Namespace) -> None:
    from hopformer.reference import ClusterSpec, relax_cluster

    spec = ClusterSpec(element=args.element, shape=args.shape, shells=args.shells, p=args.p,
                       q=args.q, r=args.r, length=args.length, cutoff=args.cutoff,
                       file=args.file, vacuum=args.vacuum, seed=args.seed,
                       melt_temperature=args.melt_temperature, melt_ps=args.melt_ps)  # fmt: skip
    summary = relax_cluster(spec, args.potential, args.out, args.summary, fmax=args.fmax)
    print(json.dumps(summary, indent=2))


def _run_segments(args: argparse.Namespace) -> None:
    from hopformer.physics.potentials import open_engine, potential_id
    from hopformer.splicing.segments import (
        SegmentSpec,
        Worker,
        WorkerId,
        load_start,
        write_worker_shards,
    )  # fmt: skip

    spec = SegmentSpec(temperature=args.temperature, segments=args.segments_per_worker,
                       segment_ps=args.segment_ps, block_ps=args.block_ps,
                       dephase_ps=args.dephase_ps, correlation_blocks=args.correlation_blocks,
                       timestep_fs=args.timestep_fs, damping_fs=args.damping_fs,
                       quench_fmax=args.quench_fmax, state_tol=args.state_tol)  # fmt: skip
    atoms = load_start(args.start, args.worker)
    engine = open_engine(atoms, args.potential)
    sha = potential_id(args.potential)
    worker = Worker(engine, spec, WorkerId(args.campaign, args.round, args.worker), args.seed, sha,
                    log=lambda m: print(m, flush=True))  # fmt: skip
    segments, transitions = worker.run(atoms.positions)
    engine.close()
    write_worker_shards(segments, transitions, args.segments_out, args.transitions_out)
    print(f"wrote {len(segments)} segments and {len(transitions)} transitions")


def _splice_round(args: argparse.Namespace) -> None:
    from pathlib import Path

    from hopformer.splicing.splice import RoundInputs, splice_round

    if len(args.segments) != len(args.transitions):
        raise ValueError(f"{len(args.segments)} segment shards but {len(args.transitions)} "
                         f"transition shards")  # fmt: skip
    inp = RoundInputs(round=args.round, previous=Path(args.previous) if args.previous else None,
                      cluster=Path(args.cluster),
                      shards=list(zip(map(Path, args.segments), map(Path, args.transitions),
                                      strict=True)))  # fmt: skip
    summary = splice_round(inp, args.out_dir, args.transitions_out, next_workers=args.workers,
                           segments_per_worker=args.segments_per_worker, seed=args.seed,
                           tol=args.state_tol)  # fmt: skip
    print(json.dumps(summary, indent=2))


def _tabulate_rates(args: argparse.Namespace) -> None:
    from hopformer.splicing.rates import tabulate_rates

    summary = tabulate_rates(args.last_round, args.temperature, args.out, args.csv, args.summary,
                             min_count=args.min_count)  # fmt: skip
    print(json.dumps(summary, indent=2))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hopformer", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("make-potential", help="write a Zhou 2004 setfl file or check + copy one")
    p.add_argument("--out", required=True, help="setfl file to write")
    p.add_argument(
        "--source",
        default="zhou2004",
        help="'zhou2004' (generate) or a path to a setfl/funcfl file",
    )
    p.add_argument("--element", default="Pt")
    p.add_argument("--nr", type=int, default=2000, help="r grid points")
    p.add_argument("--nrho", type=int, default=2000, help="density grid points")
    p.add_argument("--cutoff", type=float, default=None, help="Å (default √10/2·a0)")
    p.set_defaults(func=_make_potential)

    p = sub.add_parser("relax-cluster", help="build or read a cluster and quench it")
    p.add_argument("--potential", required=True, help="EAM file (setfl/funcfl)")
    p.add_argument("--out", required=True, help="relaxed cluster (extxyz)")
    p.add_argument("--summary", required=True, help="JSON with its energy")
    p.add_argument("--element", default="Pt")
    p.add_argument("--shape", default="icosahedron", choices=SHAPES)
    p.add_argument("--shells", type=int, default=4)
    p.add_argument("--p", type=int, default=3)
    p.add_argument("--q", type=int, default=2)
    p.add_argument("--r", type=int, default=0)
    p.add_argument("--length", type=int, default=4)
    p.add_argument("--cutoff", type=int, default=1)
    p.add_argument("--file", default=None, help="read the cluster from this file instead")
    p.add_argument("--vacuum", type=float, default=10.0, help="Å around the cluster")
    p.add_argument("--fmax", type=float, default=1e-3, help="eV/Å")
    p.add_argument(
        "--melt-temperature",
        type=float,
        default=None,
        help="K: melt with Langevin MD before quenching (a disordered cluster)",
    )
    p.add_argument("--melt-ps", type=float, default=20.0, help="ps of melting")
    p.add_argument("--seed", type=int, default=1, help="seed of the melt")
    p.set_defaults(func=_relax_cluster)

    p = sub.add_parser("run-segments", help="one splicing worker: dephase, MD segments, quenches")
    p.add_argument("--potential", required=True, help="EAM file (setfl/funcfl)")
    p.add_argument(
        "--start",
        required=True,
        help="reference cluster (extxyz) or the previous round's frontier.parquet",
    )
    p.add_argument("--campaign", required=True)
    p.add_argument("--round", type=int, required=True)
    p.add_argument("--worker", type=int, required=True)
    p.add_argument("--seed", type=int, required=True, help="campaign seed")
    p.add_argument("--temperature", type=float, required=True, help="K")
    p.add_argument("--segments-per-worker", type=int, default=5)
    p.add_argument("--segment-ps", type=float, default=20.0)
    p.add_argument("--block-ps", type=float, default=1.0, help="ps of MD between quenches")
    p.add_argument("--dephase-ps", type=float, default=1.0)
    p.add_argument(
        "--correlation-blocks",
        type=int,
        default=1,
        help="blocks a segment's final state must be held before it may end",
    )
    p.add_argument("--timestep-fs", type=float, default=2.0)
    p.add_argument("--damping-fs", type=float, default=100.0, help="Langevin 1/friction, fs")
    p.add_argument("--quench-fmax", type=float, default=1e-3, help="eV/Å")
    p.add_argument("--state-tol", type=float, default=0.15, help="Å, state-identity threshold")
    p.add_argument("--segments-out", required=True, help="segments shard (Parquet)")
    p.add_argument("--transitions-out", required=True, help="transitions shard (Parquet)")
    p.set_defaults(func=_run_segments)

    p = sub.add_parser("splice-round", help="aggregate a round: states, splicing, next frontier")
    p.add_argument("--round", type=int, required=True)
    p.add_argument("--previous", default=None, help="previous round's folder (none for round 0)")
    p.add_argument("--cluster", required=True, help="reference cluster (extxyz)")
    p.add_argument("--segments", nargs="+", required=True, help="segment shards, worker order")
    p.add_argument("--transitions", nargs="+", required=True, help="transition shards, same order")
    p.add_argument("--out-dir", required=True, help="this round's folder")
    p.add_argument("--transitions-out", required=True, help="this round's transitions Parquet")
    p.add_argument("--workers", type=int, required=True, help="workers of the next round")
    p.add_argument("--segments-per-worker", type=int, default=5)
    p.add_argument("--seed", type=int, required=True, help="campaign seed")
    p.add_argument("--state-tol", type=float, default=0.15, help="Å")
    p.set_defaults(func=_splice_round)

    p = sub.add_parser("tabulate-rates", help="MD-observed rate table and campaign summary")
    p.add_argument("--last-round", required=True, help="the last round's folder")
    p.add_argument("--temperature", type=float, required=True, help="K of the MD")
    p.add_argument("--min-count", type=int, default=1, help="list transitions seen ≥ this often")
    p.add_argument("--out", required=True, help="rate table (Parquet)")
    p.add_argument("--csv", required=True, help="rate table (CSV)")
    p.add_argument("--summary", required=True, help="campaign summary (JSON)")
    p.set_defaults(func=_tabulate_rates)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (PotentialFileError, ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"hopformer {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
