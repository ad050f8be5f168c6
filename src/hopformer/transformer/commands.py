"""Commands of the transformer stage (rules train_transformer, evaluate_transformer,
explore_transitions, and the learning curve's rules) and ``generate``, its use on any
structure."""

from __future__ import annotations

import json

import numpy as np
import torch
from ase.io import read, write

from hopformer.config import add_flags, section_values
from hopformer.console import add_threads, add_training_outputs, log, show
from hopformer.data import schema
from hopformer.data.shards import csv_text, read_table, write_rows, write_table
from hopformer.ml.devices import choose_device
from hopformer.physics.io import atomic_path, sha256_of, write_json_atomic, write_text_atomic
from hopformer.physics.relax import Relaxer
from hopformer.report.plots import plot_accuracy, plot_learning_curve
from hopformer.transformer.evaluation import accuracy, accuracy_subset
from hopformer.transformer.examples import read_examples
from hopformer.transformer.exploration import explore, explored_groups, method_rows
from hopformer.transformer.generate import generate
from hopformer.transformer.learning import STATS, curve, figures, judge, point_row, subset, trend
from hopformer.transformer.network import ModelConfig
from hopformer.transformer.training import TrainConfig, load_model, train


def _judged(p, command):
    p.add_argument("--model", required=True, help="the transformer's model file")
    p.add_argument("--potential", required=True, help="the campaign's potential file")
    add_threads(p)
    add_flags(p, command)


class TrainTransformer:
    """train (or resume) the transition transformer"""

    @staticmethod
    def add_arguments(p):
        p.add_argument("--train", required=True, help="train split (Parquet)")
        p.add_argument("--val", required=True, help="val split (Parquet)")
        add_training_outputs(p)
        add_flags(p, "train-transformer")

    @staticmethod
    def run(args):
        torch.set_num_threads(args.threads)
        model_config = ModelConfig(**section_values(args, "transformer"))
        config = TrainConfig(**section_values(args, "training", exclude=["device"]), seed=args.seed)
        summary = train(
            read_examples(args.train, model_config.max_atoms),
            read_examples(args.val, model_config.max_atoms),
            model_config,
            config,
            args.out,
            args.loss_log,
            args.checkpoint_dir,
            data_ids=[sha256_of(args.train), sha256_of(args.val)],
            device=choose_device(args.device),
            log=log,
        )
        write_json_atomic(args.summary, summary)
        show(summary)


class EvaluateTransformer:
    """accuracy(k) beside the model-free baseline"""

    @staticmethod
    def add_arguments(p):
        p.add_argument("--test", required=True, help="test split (Parquet)")
        p.add_argument("--out", required=True, help="accuracy table (Parquet)")
        p.add_argument("--csv", required=True, help="the same as CSV")
        p.add_argument("--details", required=True, help="per transition and k (Parquet)")
        p.add_argument("--plot", required=True, help="accuracy vs hint size (PNG)")
        _judged(p, "evaluate-transformer")

    @staticmethod
    def run(args):
        torch.set_num_threads(args.threads)
        model = load_model(args.model)
        test = read_examples(args.test, model.config.max_atoms)
        examples = accuracy_subset(test, args.max_transitions, args.seed)
        if not examples:
            raise ValueError(f"{args.test}: the test split is empty")
        relaxer = Relaxer(args.potential, fmax=args.quench_fmax, tol=args.state_tol)
        rows, details = accuracy(model, relaxer, examples, args.hint_sizes, log=log)
        relaxer.close()
        write_rows(details, args.details, schema.ACCURACY_DETAILS)
        write_rows(rows, args.out, schema.ACCURACY)
        write_text_atomic(args.csv, csv_text(rows, schema.ACCURACY.names))
        plot_accuracy(rows, args.plot)
        print(csv_text(rows, schema.ACCURACY.names))


class ExploreTransitions:
    """transitions from hints made without knowing a final state"""

    @staticmethod
    def add_arguments(p):
        p.add_argument("--test", required=True, help="test split (Parquet)")
        p.add_argument("--out", required=True, help="distinct transitions found (Parquet)")
        p.add_argument("--csv", required=True, help="the same without positions (CSV)")
        p.add_argument("--summary", required=True, help="counts (JSON)")
        p.add_argument(
            "--methods", required=True, help="the model beside the model-free ways (CSV)"
        )
        _judged(p, "explore-transitions")

    @staticmethod
    def run(args):
        torch.set_num_threads(args.threads)
        model = load_model(args.model)
        test = read_examples(args.test, model.config.max_atoms)
        groups = explored_groups(test, args.max_states, args.seed)
        relaxer = Relaxer(args.potential, fmax=args.quench_fmax, tol=args.state_tol)
        rows, summary = explore(
            model,
            relaxer,
            groups,
            args.samples,
            args.surface_hints,
            args.seed,
            log=log,
        )
        relaxer.close()
        write_rows(rows, args.out, schema.EXPLORATION)
        flat = [c for c in schema.EXPLORATION.names if "positions" not in c and c != "numbers"]
        write_text_atomic(args.csv, csv_text(rows, flat))
        write_json_atomic(args.summary, summary)
        methods = method_rows(summary)
        write_text_atomic(args.methods, csv_text(methods, list(methods[0])))
        show({k: v for k, v in summary.items() if k != "methods"})


def _atom_list(text: str) -> list[int]:
    try:
        return [int(a) for a in text.split(",") if a.strip()]
    except ValueError:
        raise ValueError(
            f"--hint-atoms {text!r}: expected comma-separated atom indices, e.g. 3,17"
        ) from None


class Generate:
    """candidate final states for one structure and hint, relaxed"""

    @staticmethod
    def add_arguments(p):
        p.add_argument("--initial", required=True, help="initial structure (any ASE format)")
        p.add_argument("--hint-atoms", default="", help="comma-separated atom indices (0-based)")
        p.add_argument("--hint-from", default=None, help="structure giving the hint atoms' finals")
        p.add_argument("--mode", action="store_true", help="the most probable candidate only")
        p.add_argument("--out", required=True, help="relaxed candidates (extxyz)")
        _judged(p, "generate")

    @staticmethod
    def run(args):
        initial = read(args.initial)
        atoms = _atom_list(args.hint_atoms)
        if atoms and args.hint_from is None:
            raise ValueError("--hint-atoms needs --hint-from (a structure with their finals)")
        targets = np.zeros((0, 3))
        if atoms:
            final = read(args.hint_from)
            if len(final) != len(initial):
                raise ValueError(
                    f"--hint-from {args.hint_from} has {len(final)} atoms, "
                    f"--initial {args.initial} has {len(initial)}"
                )
            if min(atoms) < 0 or max(atoms) >= len(initial):
                raise ValueError(
                    f"--hint-atoms {args.hint_atoms}: atoms are numbered 0..{len(initial) - 1}"
                )
            targets = final.positions[atoms]
        torch.set_num_threads(args.threads)
        frames = generate(
            load_model(args.model),
            initial,
            args.potential,
            atoms,
            targets,
            samples=args.samples,
            seed=args.seed,
            mode=args.mode,
            fmax=args.quench_fmax,
            tol=args.state_tol,
        )
        print("sample  status      energy_eV   delta_eV  same_as_initial")
        for f in frames:
            i = f.info
            if "relaxed_energy" in i:
                print(
                    f"{i['sample']:6d}  {i['status']:10s} {i['relaxed_energy']:11.4f} "
                    f"{i['delta_energy']:10.4f}  {i['same_as_initial']}"
                )
            else:
                print(f"{i['sample']:6d}  {i['status']:10s} {i['detail']}")
        with atomic_path(args.out) as tmp:
            write(tmp, frames, format="extxyz")
        log(f"wrote {len(frames)} relaxed candidates to {args.out}")


# -- the learning curve (rules/learning.smk) ----------------------------------------------------
class LearningSubset:
    """a learning-curve point's share of the train split's initial states"""

    @staticmethod
    def add_arguments(p):
        p.add_argument("--train", required=True, help="train split (Parquet)")
        p.add_argument("--fraction", required=True, type=float, help="share of its states")
        p.add_argument("--replica", required=True, type=int, help="the point's seed index")
        p.add_argument("--out", required=True, help="the subset (Parquet)")
        add_flags(p, "learning-subset")

    @staticmethod
    def run(args):
        table = read_table(args.train, schema.DATASET)
        part = subset(table, args.fraction, args.seed, args.replica)
        write_table(part, args.out, schema.DATASET)
        log(f"{part.num_rows} of {table.num_rows} transitions, fraction {args.fraction:g}")


class JudgeTransformer:
    """one learning-curve point: accuracy(k), exploration and no-hint recovery"""

    @staticmethod
    def add_arguments(p):
        p.add_argument("--test", required=True, help="test split (Parquet)")
        p.add_argument("--train", required=True, help="the point's train subset (Parquet)")
        p.add_argument("--training", required=True, help="its training summary (JSON)")
        p.add_argument("--fraction", required=True, type=float)
        p.add_argument("--replica", required=True, type=int)
        p.add_argument("--out", required=True, help="the point's figures (JSON)")
        _judged(p, "judge-transformer")

    @staticmethod
    def run(args):
        torch.set_num_threads(args.threads)
        model = load_model(args.model)
        test = read_examples(args.test, model.config.max_atoms)
        relaxer = Relaxer(args.potential, fmax=args.quench_fmax, tol=args.state_tol)
        judged = judge(
            model,
            relaxer,
            test,
            args.hint_sizes,
            args.max_transitions,
            args.max_states,
            args.samples,
            args.surface_hints,
            args.seed,
            log=log,
        )
        relaxer.close()
        with open(args.training, encoding="utf-8") as f:
            training = json.load(f)
        train = read_table(args.train, schema.DATASET)
        row = point_row(args.fraction, args.replica, train, judged, training)
        write_json_atomic(args.out, {"point": row, **judged})
        show(row)


class LearningCurve:
    """the learning curve's table, trend and figure from its points"""

    @staticmethod
    def add_arguments(p):
        p.add_argument("--points", nargs="+", required=True, help="points' figures (JSON)")
        p.add_argument("--table", required=True, help="one row per point (CSV)")
        p.add_argument("--csv", required=True, help="one row per fraction, with spreads (CSV)")
        p.add_argument("--summary", required=True, help="curve and trend (JSON)")
        p.add_argument("--plot", required=True, help="the curve (PNG)")

    @staticmethod
    def run(args):
        rows = []
        for path in args.points:
            with open(path, encoding="utf-8") as f:
                rows.append(json.load(f)["point"])
        rows.sort(key=lambda r: (r["fraction"], r["replica"]))
        pooled = curve(rows)
        names = figures(rows)
        write_text_atomic(args.table, csv_text(rows, ["fraction", "replica", "steps", *names]))
        columns = ["fraction", "replicas"] + [f"{n}{s}" for n in names for s in STATS]
        write_text_atomic(args.csv, csv_text(pooled, columns))
        write_json_atomic(args.summary, {"curve": pooled, "trend": trend(rows, names)})
        plot_learning_curve(pooled, args.plot)
        shown = [n for n in names if n.startswith(("train_transitions", "accuracy_", "recovery"))]
        print(csv_text(pooled, ["fraction", "replicas", *shown]))
