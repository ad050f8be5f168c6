"""Commands of the MLIP stage (rules make_mlip_data, train_mlip, evaluate_mlip)."""

from __future__ import annotations

import json

import pandas as pd
import torch
from ase.io import read

from hopformer.config import add_flags, section_values
from hopformer.console import add_threads, add_training_outputs, log, show
from hopformer.data import schema
from hopformer.data.shards import write_rows
from hopformer.ml.devices import choose_device
from hopformer.mlip.data import (
    SamplingSpec,
    bulk_rows,
    cluster_rows,
    read_configs,
    validated_bands,
    visited_minima,
)
from hopformer.mlip.evaluation import evaluate_mlip
from hopformer.mlip.model import MlipConfig
from hopformer.mlip.peers import COLUMNS, peer_rows
from hopformer.mlip.training import MlipTrainConfig, train
from hopformer.physics.io import write_json_atomic, write_text_atomic


def _bulk_arguments(p):
    p.add_argument("--bulk-potential", default=None, help="EAM of the bulk element (optional)")
    p.add_argument("--bulk-element", default=None, help="its element (with --bulk-potential)")
    p.add_argument(
        "--lattice-constant",
        type=float,
        default=None,
        help="its fcc lattice constant, Å (with --bulk-potential)",
    )


def _bulk(args) -> tuple[str, str, float] | None:
    if not args.bulk_potential:
        return None
    if args.bulk_element is None or args.lattice_constant is None:
        raise ValueError("--bulk-potential needs --bulk-element and --lattice-constant")
    return args.bulk_potential, args.bulk_element, args.lattice_constant


class MakeMlipData:
    """sample configurations of the campaign and label them with the reference potential"""

    @staticmethod
    def add_arguments(p):
        p.add_argument("--potential", required=True, help="the campaign's EAM file")
        p.add_argument("--cluster", required=True, help="the relaxed cluster")
        p.add_argument("--dataset", nargs="+", required=True, help="dataset splits (minima)")
        p.add_argument("--validation", nargs="*", default=[], help="validation shards (bands)")
        _bulk_arguments(p)
        p.add_argument("--out", required=True, help="labelled configurations (Parquet)")
        add_flags(p, "make-mlip-data")

    @staticmethod
    def run(args):
        bulk = _bulk(args)
        lists = ("hot_temperatures", "bulk_temperatures", "bulk_scales")
        spec = SamplingSpec(
            **{
                k: tuple(v) if k in lists else v
                for k, v in section_values(args, "mlip.data", exclude=["bulk"]).items()
            },
            temperature=args.temperature,
            timestep_fs=args.timestep_fs,
            seed=args.seed,
            **({"lattice_constant": bulk[2]} if bulk else {}),
        )
        cluster = read(args.cluster)
        rows = cluster_rows(
            args.potential,
            cluster,
            visited_minima(args.dataset, len(cluster)),
            validated_bands(args.validation, len(cluster)),
            spec,
            log,
        )
        if bulk:
            rows += bulk_rows(bulk[0], bulk[1], spec, log)
        write_rows(rows, args.out, schema.MLIP_DATA)
        splits = {s: sum(r["split"] == s for r in rows) for s in ("train", "val", "test")}
        print(json.dumps({"configurations": len(rows), **splits}))


class TrainMlip:
    """train (or resume) the attention ML interatomic potential"""

    @staticmethod
    def add_arguments(p):
        p.add_argument("--data", required=True, help="labelled configurations (Parquet)")
        add_training_outputs(p)
        add_flags(p, "train-mlip")

    @staticmethod
    def run(args):
        torch.set_num_threads(args.threads)
        model_config = MlipConfig(**section_values(args, "mlip.model"))
        config = MlipTrainConfig(
            **section_values(args, "mlip.training", exclude=["device"]), seed=args.seed
        )
        summary = train(
            read_configs(args.data, "train"),
            read_configs(args.data, "val"),
            model_config,
            config,
            args.out,
            args.loss_log,
            args.checkpoint_dir,
            choose_device(args.device),
            log=log,
        )
        write_json_atomic(args.summary, summary)
        show(summary)


class EvaluateMlip:
    """the MLIP against the reference potential: errors, barriers, NVE, speed"""

    @staticmethod
    def add_arguments(p):
        p.add_argument("--model", required=True)
        p.add_argument("--data", required=True, help="labelled configurations (test split used)")
        p.add_argument("--potential", required=True, help="the campaign's EAM file")
        p.add_argument("--cluster", required=True, help="the relaxed cluster (MD, speed)")
        p.add_argument("--validation", nargs="*", default=[], help="validation shards (barriers)")
        _bulk_arguments(p)
        add_threads(p)
        p.add_argument("--out", required=True, help="summary (JSON)")
        p.add_argument("--barriers-csv", required=True, help="barrier per transition (CSV)")
        add_flags(p, "evaluate-mlip")

    @staticmethod
    def run(args):
        torch.set_num_threads(args.threads)
        summary, found = evaluate_mlip(
            args.model,
            args.data,
            args.potential,
            read(args.cluster),
            args.validation,
            args.temperature,
            args.md_ps,
            args.barriers,
            args.images,
            args.neb_fmax,
            _bulk(args),
            log=log,
        )
        write_text_atomic(
            args.barriers_csv, pd.DataFrame(found).to_csv(index=False, float_format="%.6g")
        )
        write_json_atomic(args.out, summary)
        show(summary)


class MlipPeers:
    """the MLIP beside MACE: the workflow's model and the bench's, one table"""

    @staticmethod
    def add_arguments(p):
        p.add_argument("--evaluation", required=True, help="evaluate-mlip's summary (JSON)")
        p.add_argument("--training", required=True, help="train-mlip's summary (JSON)")
        p.add_argument("--bench", default=None, help="bench/mlip_vs_mace.py's summary (JSON)")
        p.add_argument("--out", required=True, help="the table (CSV)")

    @staticmethod
    def run(args):
        def load(path):
            with open(path) as f:
                return json.load(f)

        bench = load(args.bench) if args.bench else None
        rows = peer_rows(load(args.evaluation), load(args.training), bench)
        table = pd.DataFrame(rows, columns=list(COLUMNS))
        write_text_atomic(args.out, table.to_csv(index=False, float_format="%.4g"))
        print(table.to_string(index=False))
