"""Commands of the kinetics stage (rules/kinetics.smk): the starting tables, one event-search
job, one round's aggregation, the closed loop's fine-tuning, the report."""

from __future__ import annotations

import math

import numpy as np
import torch
from ase.io import read

from hopformer.config import add_flags, dataclass_values, section_values
from hopformer.console import add_threads, add_training_outputs, log, show
from hopformer.data.kinetics import EVENTS, SEARCH_STATS
from hopformer.data.schema import SEGMENT_SHARD
from hopformer.data.shards import csv_text, read_tables, write_rows
from hopformer.kinetics.completeness import in_window
from hopformer.kinetics.finders import FinderConfig
from hopformer.kinetics.rounds import KineticsConfig, aggregate, finder_figures, start_tables
from hopformer.kinetics.search import Known, SearchJob, search_state
from hopformer.kinetics.tables import read_round, round_paths, validated_examples, write_round
from hopformer.ml.devices import choose_device
from hopformer.physics.htst import K_B
from hopformer.physics.io import sha256_of, write_json_atomic, write_text_atomic
from hopformer.physics.relax import Relaxer
from hopformer.report.plots import plot_kinetics
from hopformer.streams import KINETICS_FINETUNE, seed_of
from hopformer.transformer.examples import read_examples
from hopformer.transformer.training import TrainConfig, load_model, train
from hopformer.validation.pair import ValidationConfig


class KineticsStart:
    """the tables before the first kinetics round: the relaxed cluster as state 0"""

    @staticmethod
    def add_arguments(p):
        p.add_argument("--cluster", required=True, help="the relaxed starting cluster (extxyz)")
        p.add_argument("--potential", required=True, help="the campaign's potential file")
        p.add_argument("--out-dir", required=True, help="folder of the round's tables")
        add_flags(p, "kinetics-start")

    @staticmethod
    def run(args):
        atoms = read(args.cluster)
        relaxer = Relaxer(args.potential, fmax=args.quench_fmax, tol=args.state_tol)
        res = relaxer.relax(atoms.positions, atoms.numbers)
        if not res.ok:
            raise SystemExit(f"{args.cluster}: the starting cluster does not relax ({res.detail})")
        x = res.positions - res.positions.mean(0)
        write_round(args.out_dir, start_tables(atoms.numbers, x, res.energy, args.searches))
        log(f"kinetics starts in state 0 (E = {res.energy:.4f} eV, {len(atoms)} atoms)")


class KineticsSearch:
    """one event-search job: every finder from one state, relaxed, deduplicated, validated"""

    @staticmethod
    def add_arguments(p):
        p.add_argument("--previous", required=True, help="folder of the previous round's tables")
        p.add_argument("--round", type=int, required=True)
        p.add_argument("--job", type=int, required=True)
        p.add_argument("--model", default=None, help="transformer model file (finder transformer)")
        p.add_argument("--model-generation", type=int, default=0)
        p.add_argument("--potential", required=True, help="the campaign's potential file")
        p.add_argument("--events", required=True, help="products found (Parquet)")
        p.add_argument("--stats", required=True, help="one row per finder (Parquet)")
        add_threads(p)
        add_flags(p, "kinetics-search")

    @staticmethod
    def run(args):
        torch.set_num_threads(args.threads)
        prev = read_round(args.previous)
        (target,) = [t["state"] for t in prev["targets"] if t["job"] == args.job] or [None]
        if target is None:
            raise SystemExit(f"{args.previous}/targets.parquet: no target for job {args.job}")
        state = prev["states"][target]
        table = sorted(
            (p for p in prev["processes"] if p["state"] == target), key=lambda p: p["process"]
        )
        known = [Known(p["process"], p["final_positions"], p["final_energy"]) for p in table]
        barriers = [p["barrier"] for p in table if p["valid"]]
        kT = K_B * args.temperature

        def window(barrier: float) -> bool:
            return bool(in_window([*barriers, barrier], kT, args.window_kT)[-1])

        if "transformer" in args.finders and not args.model:
            raise SystemExit("kinetics-search: the transformer finder needs --model (a model file)")
        model = load_model(args.model) if "transformer" in args.finders else None
        relaxer = Relaxer(args.potential, fmax=args.quench_fmax, tol=args.state_tol)
        job = SearchJob(
            args.round,
            args.job,
            target,
            np.asarray(state["numbers"]),
            state["positions"],
            state["energy"],
            args.seed,
            args.model_generation,
        )
        finder_config = FinderConfig(**dataclass_values(args, FinderConfig))
        validation = ValidationConfig(
            images=args.images,
            neb_fmax=args.neb_fmax,
            neb_steps=args.neb_steps,
            hessian_delta=args.hessian_delta,
        )
        log(f"round {args.round} job {args.job}: searching state {target} ({len(known)} known)")
        events, stats = search_state(
            job, known, args.finders, relaxer, finder_config, validation, model, window, log
        )
        relaxer.close()
        write_rows(events, args.events, EVENTS)
        write_rows(stats, args.stats, SEARCH_STATS)
        show({s["finder"]: {k: s[k] for k in ("new_valid", "force_calls")} for s in stats})


class KineticsRound:
    """aggregate one round: process tables, completeness, KMC, the next round's targets"""

    @staticmethod
    def add_arguments(p):
        p.add_argument("--previous", required=True, help="folder of the previous round's tables")
        p.add_argument("--round", type=int, required=True)
        p.add_argument("--events", nargs="+", required=True, help="search jobs' events")
        p.add_argument("--stats", nargs="+", required=True, help="search jobs' stats")
        p.add_argument("--out-dir", required=True, help="folder of this round's tables")
        p.add_argument("--summary", required=True, help="round summary (JSON)")
        p.add_argument("--search-stats", required=True, help="this round's stats (CSV)")
        add_flags(p, "kinetics-round")

    @staticmethod
    def run(args):
        config = KineticsConfig(**dataclass_values(args, KineticsConfig))
        events = read_tables(args.events, EVENTS).to_pylist()
        stats = read_tables(args.stats, SEARCH_STATS).to_pylist()
        tables, summary = aggregate(
            read_round(args.previous), events, stats, args.round, config, args.seed
        )
        write_round(args.out_dir, tables)
        columns = [f.name for f in SEARCH_STATS]
        write_text_atomic(args.search_stats, csv_text(stats, columns))
        write_json_atomic(args.summary, summary)
        show(summary)


class FinetuneTransformer:
    """fine-tune the transformer on the MD data plus the kinetics stage's validated events"""

    @staticmethod
    def add_arguments(p):
        p.add_argument("--init", required=True, help="the model to start from")
        p.add_argument("--train", required=True, help="train split (Parquet)")
        p.add_argument("--val", required=True, help="val split (Parquet)")
        p.add_argument("--tables", required=True, help="folder of a kinetics round's tables")
        add_training_outputs(p)
        add_flags(p, "finetune-transformer")

    @staticmethod
    def run(args):
        torch.set_num_threads(args.threads)
        init = load_model(args.init)
        tables = read_round(args.tables)
        events = validated_examples(tables)
        values = section_values(args, "training", exclude=["device", "steps", "learning_rate"])
        config = TrainConfig(
            **values,
            steps=args.finetune_steps,
            learning_rate=args.finetune_learning_rate,
            seed=seed_of(args.seed, KINETICS_FINETUNE),
        )
        md = read_examples(args.train, init.config.max_atoms)
        log(f"fine-tuning on {len(md)} MD transitions + {len(events)} validated events")
        summary = train(
            md + events,
            read_examples(args.val, init.config.max_atoms),
            init.config,
            config,
            args.out,
            args.loss_log,
            args.checkpoint_dir,
            data_ids=[
                *(sha256_of(p) for p in (args.init, args.train, args.val)),
                sha256_of(round_paths(args.tables)["processes"]),
            ],
            device=choose_device(args.device),
            log=log,
            init=init,
        )
        write_json_atomic(args.summary, summary | {"kinetics_events": len(events)})
        show(summary)


class KineticsReport:
    """the kinetics figures and the per-round finder table"""

    @staticmethod
    def add_arguments(p):
        p.add_argument("--final", required=True, help="folder of the last round's tables")
        p.add_argument("--stats", nargs="+", required=True, help="every search job's stats")
        p.add_argument("--md-segments", nargs="*", default=[], help="splicing workers' segments")
        p.add_argument("--plot", required=True, help="figure (PNG)")
        p.add_argument("--finders", required=True, help="events per force call by round (CSV)")
        p.add_argument("--summary", required=True, help="the stage's summary (JSON)")

    @staticmethod
    def run(args):
        tables = read_round(args.final)
        stats = read_tables(args.stats, SEARCH_STATS).to_pylist()
        md = read_tables(args.md_segments, SEGMENT_SHARD).to_pylist() if args.md_segments else []
        rows, summary = finder_table(stats)
        md_ps = sum(r["duration_ps"] for r in md)
        md_wall = sum(r["wall_s"] for r in md)
        search_wall = sum(s["wall_s"] for s in stats)
        kmc_ps = tables["trajectory"][-1]["time_ps"] if tables["trajectory"] else 0.0
        summary |= {
            "kmc_simulated_ps": kmc_ps,
            "kmc_steps": len(tables["trajectory"]),
            "search_wall_s": search_wall,
            "md_simulated_ps": md_ps,
            "md_wall_s": md_wall,
            "kmc_ps_per_wall_s": kmc_ps / search_wall if search_wall else None,
            "md_ps_per_wall_s": md_ps / md_wall if md_wall else None,
        }
        reach = summary["kmc_ps_per_wall_s"], summary["md_ps_per_wall_s"]
        summary["reach_ratio"] = (
            reach[0] / reach[1] if all(reach) and math.isfinite(reach[0]) else None
        )
        plot_kinetics(tables, stats, rows, md, args.plot)
        write_text_atomic(args.finders, csv_text(rows, list(rows[0]) if rows else ["round"]))
        write_json_atomic(args.summary, summary)
        show(summary)


def finder_table(stats: list[dict]) -> tuple[list[dict], dict]:
    """Distinct validated events in the window per 1000 force calls, by round and finder
    (rows), and per finder over every round."""
    per_round = finder_figures(stats, key=lambda s: (s["round"], s["finder"]))
    rows = [{"round": r, "finder": f, **v} for (r, f), v in sorted(per_round.items())]
    return rows, {"finders": finder_figures(stats)}
