"""Commands of the validation stage (rules validate_shard, collect_tables)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from hopformer.config import add_flags
from hopformer.console import add_threads, log, show
from hopformer.data import schema
from hopformer.data.shards import write_rows
from hopformer.physics.io import write_json_atomic
from hopformer.physics.relax import Relaxer
from hopformer.transformer.training import load_model
from hopformer.validation.select import shard_of, validation_rows
from hopformer.validation.shard import ValidationConfig, run_shard
from hopformer.validation.tables import collect


class ValidateShard:
    """generate, relax, NEB and hTST for one shard of the held-out states"""

    @staticmethod
    def add_arguments(p):
        p.add_argument("--model", required=True, help="the transformer's model file")
        p.add_argument("--potential", required=True, help="the campaign's potential file")
        for split in ("train", "val", "test"):
            p.add_argument(f"--{split}", required=True, help=f"{split} split (Parquet)")
        p.add_argument("--shard", type=int, required=True)
        add_threads(p)
        p.add_argument("--out", required=True, help="validated transitions (Parquet)")
        p.add_argument("--summary", required=True, help="candidate and NEB counts (JSON)")
        add_flags(p, "validate-shard")

    @staticmethod
    def run(args):
        config = ValidationConfig(
            tuple(args.hint_sizes),
            args.samples,
            args.surface_hints,
            args.images,
            args.neb_fmax,
            args.neb_steps,
            args.hessian_delta,
        )
        rows = validation_rows(
            args.train, args.val, args.test, args.max_states, args.md_min_count, args.seed
        )
        groups = shard_of(rows, args.shard, args.shards)
        model = None
        if any(h for _, h in groups.values()):
            torch.set_num_threads(args.threads)
            model = load_model(args.model)
        relaxer = Relaxer(args.potential, fmax=args.quench_fmax, tol=args.state_tol)
        log(
            f"shard {args.shard}/{args.shards}: {len(groups)} states "
            f"({sum(h for _, h in groups.values())} held out)"
        )
        table, summary = run_shard(groups, relaxer, config, args.seed, model, log=log)
        relaxer.close()
        write_rows(table, args.out, schema.VALIDATION)
        write_json_atomic(args.summary, summary)
        show(summary)


OUTPUTS = (
    ("rates", "rate/energy table (Parquet)"),
    ("csv", "the same as CSV"),
    ("top-table", "most common transitions (CSV)"),
    ("compare", "MD vs hTST rates (CSV)"),
    ("summary", "counts (JSON)"),
    ("paths", "folder of extxyz paths"),
    ("mep-plot", "MEP profiles (PNG)"),
    ("rate-plot", "hTST vs MD rates (PNG)"),
)


class CollectTables:
    """rate/energy tables, plots and paths of every shard"""

    @staticmethod
    def add_arguments(p):
        p.add_argument("--shards", nargs="+", required=True, help="validate-shard outputs")
        p.add_argument("--summaries", nargs="+", required=True, help="their summaries (JSON)")
        p.add_argument("--md-rates", required=True, help="md/rates.parquet")
        p.add_argument("--accuracy", default=None, help="accuracy(k) table (Parquet) to carry")
        for name, what in OUTPUTS:
            p.add_argument(f"--{name}", required=True, help=what)
        add_flags(p, "collect-tables")

    @staticmethod
    def run(args):
        if len(args.summaries) != len(args.shards):
            raise ValueError(f"{len(args.shards)} shards but {len(args.summaries)} summaries")
        summaries = [json.loads(Path(p).read_text()) for p in args.summaries]
        out = {
            k: getattr(args, k)
            for k in ("rates", "csv", "compare", "summary", "paths", "mep_plot", "rate_plot")
        }
        out["top"] = args.top_table
        show(
            collect(
                args.shards,
                summaries,
                args.md_rates,
                args.temperature,
                args.temperatures,
                args.compare_min_count,
                args.top_transitions,
                out,
                accuracy=args.accuracy,
            )
        )
