"""Configuration checks and lint: a bad config stops before any job and names the key."""

from __future__ import annotations

import argparse
import shlex

from hopformer.cli import COMMANDS, build_parser


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_bad_config_stops_before_any_job_and_names_the_key(workflow):
    workflow.edit_config("cluster", "shells", -1)
    proc = workflow.snakemake(check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "cluster.shells = -1: expected ≥ 1" in text
    assert not (workflow.root / "results").exists()


def test_bad_splicing_value_is_named(workflow):
    workflow.edit_config("splicing", "workers", 0)
    proc = workflow.snakemake("-n", check=False)
    assert proc.returncode != 0
    assert "splicing.workers = 0: expected ≥ 1" in proc.stdout + proc.stderr


def test_unknown_config_key_is_named(workflow):
    workflow.edit_config("cluster", "shell", 3)
    proc = workflow.snakemake("-n", check=False)
    assert proc.returncode != 0
    assert "cluster.shell: not a key of cluster" in proc.stdout + proc.stderr


def test_lint_is_clean(workflow):
    proc = workflow.snakemake("--lint")
    assert "Congratulations" in proc.stdout + proc.stderr


def test_a_cross_key_problem_stops_before_any_job_and_names_both_keys(workflow):
    workflow.edit_config("transformer", "heads", 3)  # d_model 16 is no multiple of 3
    proc = workflow.snakemake(check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "transformer.d_model (16)" in text and "transformer.heads (3)" in text
    assert not (workflow.root / "results").exists(), "not one job ran"


def test_every_rule_calls_its_command_with_flags_it_accepts(workflow):
    """The shell line of every job of a full campaign — surrogates and MLIP included — parses
    with the command the rule calls (drift between rules and the CLI fails here, not in a job
    hours into a campaign)."""
    workflow.edit_config("trajectory", "enabled", True)
    workflow.edit_config("mlip", "enabled", True)
    workflow.edit_config("learning_curve", "enabled", True)
    proc = workflow.snakemake("-n", "-p")
    text = (proc.stdout + proc.stderr).replace("Shell command: ", "\n")
    lines = [
        line.strip()[len("hopformer ") :]
        for line in text.splitlines()
        if line.strip().startswith("hopformer ")
    ]
    seen = set()
    for line in lines:
        argv = shlex.split(line.split(" > ", 1)[0])
        name = argv[0]
        parser = _subparsers(build_parser(only=name))[name]
        parser.parse_args(argv[1:])  # exits (fails the test) on an unknown or bad flag
        seen.add(name)
    assert seen == {name for name, _ in COMMANDS} - {"generate", "check-config"}, seen
