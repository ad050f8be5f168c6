"""The ``hopformer`` command line: one subcommand per workflow rule, each defined beside its
stage's library code (``<stage>/commands.py``). This module is only the registry.

A command is a class with a one-line docstring (its help), ``add_arguments(parser)`` and
``run(args)``; only the module of the command being run is imported, so a job pays for
the libraries of its own stage only.
"""

from __future__ import annotations

import argparse
import sys
from importlib import import_module

from hopformer.physics.eam import PotentialFileError

# (subcommand, "module:class"), in the order of the campaign's DAG.
COMMANDS = [
    ("check-config", "hopformer.config.commands:CheckConfig"),
    ("make-potential", "hopformer.reference.commands:MakePotential"),
    ("relax-cluster", "hopformer.reference.commands:RelaxCluster"),
    ("run-segments", "hopformer.splicing.commands:RunSegments"),
    ("splice-round", "hopformer.splicing.commands:SpliceRound"),
    ("tabulate-rates", "hopformer.splicing.commands:TabulateRates"),
    ("make-dataset", "hopformer.data.commands:MakeDataset"),
    ("train-transformer", "hopformer.transformer.commands:TrainTransformer"),
    ("evaluate-transformer", "hopformer.transformer.commands:EvaluateTransformer"),
    ("explore-transitions", "hopformer.transformer.commands:ExploreTransitions"),
    ("learning-subset", "hopformer.transformer.commands:LearningSubset"),
    ("judge-transformer", "hopformer.transformer.commands:JudgeTransformer"),
    ("learning-curve", "hopformer.transformer.commands:LearningCurve"),
    ("generate", "hopformer.transformer.commands:Generate"),
    ("validate-shard", "hopformer.validation.commands:ValidateShard"),
    ("collect-tables", "hopformer.validation.commands:CollectTables"),
    ("kinetics-start", "hopformer.kinetics.commands:KineticsStart"),
    ("kinetics-search", "hopformer.kinetics.commands:KineticsSearch"),
    ("kinetics-round", "hopformer.kinetics.commands:KineticsRound"),
    ("finetune-transformer", "hopformer.kinetics.commands:FinetuneTransformer"),
    ("kinetics-report", "hopformer.kinetics.commands:KineticsReport"),
    ("run-reference-md", "hopformer.surrogates.commands:RunReferenceMd"),
    ("train-integrator", "hopformer.surrogates.commands:TrainIntegrator"),
    ("evaluate-integrator", "hopformer.surrogates.commands:EvaluateIntegrator"),
    ("train-predictor", "hopformer.surrogates.commands:TrainPredictor"),
    ("evaluate-predictor", "hopformer.surrogates.commands:EvaluatePredictor"),
    ("make-mlip-data", "hopformer.mlip.commands:MakeMlipData"),
    ("train-mlip", "hopformer.mlip.commands:TrainMlip"),
    ("evaluate-mlip", "hopformer.mlip.commands:EvaluateMlip"),
    ("mlip-peers", "hopformer.mlip.commands:MlipPeers"),
]


def command(name: str):
    """The command class registered as ``name``."""
    module, cls = dict(COMMANDS)[name].split(":")
    return getattr(import_module(module), cls)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every subcommand, or (``only``) of one, the others listed by name."""
    parser = argparse.ArgumentParser(prog="hopformer", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, _ in COMMANDS:
        if only is not None and name != only:
            sub.add_parser(name)
            continue
        cmd = command(name)
        p = sub.add_parser(name, help=cmd.__doc__.strip(), description=cmd.__doc__.strip())
        cmd.add_arguments(p)
        p.set_defaults(run=cmd.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    first = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(first if first in dict(COMMANDS) else None).parse_args(argv)
    try:
        args.run(args)
    except (PotentialFileError, ValueError, RuntimeError) as exc:
        print(f"hopformer {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a missing input, a full disk, no permission: name the file
        where = f"{exc.filename}: " if exc.filename else ""
        kept = (
            ""
            if isinstance(exc, FileNotFoundError)
            else " (outputs are written atomically: a previous version is kept)"
        )
        print(
            f"hopformer {args.command}: error: {where}{exc.strerror or exc}{kept}", file=sys.stderr
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
