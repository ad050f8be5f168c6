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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (PotentialFileError, ValueError, FileNotFoundError) as exc:
        print(f"hopformer {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
