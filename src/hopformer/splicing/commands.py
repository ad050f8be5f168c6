"""Commands of the splicing stage (rules run_segments, splice_round, tabulate_rates)."""

from __future__ import annotations

from pathlib import Path

from hopformer.config import add_flags
from hopformer.console import log, show
from hopformer.physics.potentials import open_engine, potential_id
from hopformer.splicing.rates import tabulate_rates
from hopformer.splicing.segments import (
    SegmentSpec,
    Worker,
    WorkerId,
    load_start,
    write_worker_shards,
)
from hopformer.splicing.splice import RoundInputs, splice_round


class RunSegments:
    """one splicing worker: dephase, MD segments, quenches"""

    @staticmethod
    def add_arguments(p):
        p.add_argument("--potential", required=True, help="the campaign's potential file")
        p.add_argument(
            "--start",
            required=True,
            help="reference cluster (extxyz) or the previous round's frontier.parquet",
        )
        p.add_argument("--round", type=int, required=True)
        p.add_argument("--worker", type=int, required=True)
        p.add_argument("--segments-out", required=True, help="segments shard (Parquet)")
        p.add_argument("--transitions-out", required=True, help="transitions shard (Parquet)")
        add_flags(p, "run-segments")

    @staticmethod
    def run(args):
        spec = SegmentSpec(
            temperature=args.temperature,
            segments=args.segments_per_worker,
            segment_ps=args.segment_ps,
            block_ps=args.block_ps,
            dephase_ps=args.dephase_ps,
            correlation_blocks=args.correlation_blocks,
            timestep_fs=args.timestep_fs,
            damping_fs=args.damping_fs,
            quench_fmax=args.quench_fmax,
            state_tol=args.state_tol,
        )
        atoms = load_start(args.start, args.worker)
        engine = open_engine(atoms, args.potential)
        worker = Worker(
            engine,
            spec,
            WorkerId(args.campaign, args.round, args.worker),
            args.seed,
            potential_id(args.potential),
            log=log,
        )
        segments, transitions = worker.run(atoms.positions)
        engine.close()
        write_worker_shards(segments, transitions, args.segments_out, args.transitions_out)
        log(f"wrote {len(segments)} segments and {len(transitions)} transitions")


class SpliceRound:
    """aggregate a round: states, splicing, the next round's frontier"""

    @staticmethod
    def add_arguments(p):
        p.add_argument("--round", type=int, required=True)
        p.add_argument("--previous", default=None, help="previous round's folder (none for 0)")
        p.add_argument("--cluster", required=True, help="reference cluster (extxyz)")
        p.add_argument(
            "--starts",
            nargs="*",
            default=[],
            help="starts of trajectories 1, 2, … spliced beside the reference cluster's",
        )
        p.add_argument("--segments", nargs="+", required=True, help="segment shards, worker order")
        p.add_argument("--transitions", nargs="+", required=True, help="transition shards, same")
        p.add_argument("--out-dir", required=True, help="this round's folder")
        p.add_argument("--transitions-out", required=True, help="this round's transitions")
        add_flags(p, "splice-round")

    @staticmethod
    def run(args):
        if len(args.segments) != len(args.transitions):
            raise ValueError(
                f"{len(args.segments)} segment shards but {len(args.transitions)} transition shards"
            )
        shards = list(zip(map(Path, args.segments), map(Path, args.transitions), strict=True))
        inp = RoundInputs(
            round=args.round,
            previous=Path(args.previous) if args.previous else None,
            cluster=Path(args.cluster),
            starts=[Path(p) for p in args.starts],
            shards=shards,
        )
        show(
            splice_round(
                inp,
                args.out_dir,
                args.transitions_out,
                next_workers=args.workers,
                segments_per_worker=args.segments_per_worker,
                seed=args.seed,
                tol=args.state_tol,
                relabel=args.relabel_states,
            )
        )


class TabulateRates:
    """the MD-observed rate table and the campaign summary"""

    @staticmethod
    def add_arguments(p):
        p.add_argument("--last-round", required=True, help="the last round's folder")
        p.add_argument("--out", required=True, help="rate table (Parquet)")
        p.add_argument("--csv", required=True, help="rate table (CSV)")
        p.add_argument("--summary", required=True, help="campaign summary (JSON)")
        add_flags(p, "tabulate-rates")

    @staticmethod
    def run(args):
        show(
            tabulate_rates(
                args.last_round,
                args.temperature,
                args.out,
                args.csv,
                args.summary,
                min_count=args.min_count,
            )
        )
