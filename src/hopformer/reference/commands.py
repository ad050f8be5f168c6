"""Commands of the reference stage (rules make_potential, relax_cluster)."""

from __future__ import annotations

from hopformer.config import add_flags
from hopformer.console import log, show
from hopformer.reference.cluster import ClusterSpec, make_potential, relax_cluster


class MakePotential:
    """write a Zhou 2004 setfl file, or check and copy a user's potential file"""

    @staticmethod
    def add_arguments(p):
        p.add_argument("--out", required=True, help="potential file to write")
        add_flags(p, "make-potential")

    @staticmethod
    def run(args):
        path = make_potential(
            args.out,
            source=args.source,
            element=args.element,
            nr=args.nr,
            nrho=args.nrho,
            cutoff=args.cutoff,
        )
        log(f"wrote {path}")


class RelaxCluster:
    """build (or read) the starting cluster, optionally melt it, and quench it"""

    @staticmethod
    def add_arguments(p):
        p.add_argument("--potential", required=True, help="the campaign's potential file")
        p.add_argument("--out", required=True, help="relaxed cluster (extxyz)")
        p.add_argument("--summary", required=True, help="JSON with its energy")
        p.add_argument(
            "--trajectory",
            type=int,
            default=0,
            help="0: the reference cluster; t > 0: the start of spliced trajectory t (own melt)",
        )
        add_flags(p, "relax-cluster")

    @staticmethod
    def run(args):
        spec = ClusterSpec(
            element=args.element,
            shape=args.shape,
            shells=args.shells,
            p=args.p,
            q=args.q,
            r=args.r,
            length=args.length,
            cutoff=args.cutoff,
            file=args.file,
            vacuum=args.vacuum,
            seed=args.seed,
            melt_temperature=args.melt_temperature,
            melt_ps=args.melt_ps,
            adatoms=args.adatoms,
        )
        show(
            relax_cluster(
                spec,
                args.potential,
                args.out,
                args.summary,
                fmax=args.fmax,
                trajectory=args.trajectory,
            )
        )
