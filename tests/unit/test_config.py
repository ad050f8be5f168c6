"""Each config key is declared once (config/schema.yaml); the flags, the rules' arguments, the
defaults of the commands and of the library's dataclasses derive from or agree with it. These
tests fail on drift."""

from __future__ import annotations

import argparse
import shlex
from dataclasses import MISSING, fields
from pathlib import Path

import jsonschema
import pytest
import yaml

from hopformer import config as C
from hopformer.cli import COMMANDS, build_parser
from hopformer.data.dataset import SplitSpec
from hopformer.kinetics.finders import FinderConfig
from hopformer.kinetics.rounds import KineticsConfig
from hopformer.mlip.data import SamplingSpec
from hopformer.mlip.model import MlipConfig
from hopformer.mlip.training import MlipTrainConfig
from hopformer.reference.cluster import ClusterSpec
from hopformer.splicing.segments import SegmentSpec
from hopformer.surrogates.integrator import IntegratorConfig
from hopformer.surrogates.predictor import PredictorConfig
from hopformer.surrogates.runs import TrajectorySpec
from hopformer.transformer.network import ModelConfig
from hopformer.transformer.training import TrainConfig
from hopformer.validation.shard import ValidationConfig

REPO = Path(__file__).resolve().parents[2]
NAMES = [name for name, _ in COMMANDS]
#: flags a command owns that are not campaign config (paths, job identity, the thread count)
OWN_DEFAULTS = {"threads": 1}


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


PARSERS = _subparsers(build_parser())


def test_every_declared_key_has_type_default_and_description():
    keys = list(C.declared())
    assert len(keys) > 100
    for key, spec in keys:
        assert {"type", "default", "description"} <= set(spec) or "enum" in spec, key
        for command in spec.get(C.COMMANDS, []):
            assert command in NAMES, f"{key}: x-commands names unknown command {command!r}"


def test_the_declared_defaults_are_a_valid_config():
    defaults: dict = {}
    for key, spec in C.declared():
        node = defaults
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = spec["default"]
    jsonschema.validate(defaults, C.schema())


def test_the_default_campaign_sets_every_declared_key_and_nothing_else():
    campaign = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    jsonschema.validate(campaign, C.schema())
    missing = [
        k for k, _ in C.declared() if C.lookup(campaign, k) is None and C.default(k) is not None
    ]
    assert missing == [], "config/config.yaml documents every key; add these"
    C.check(campaign, REPO)


@pytest.mark.parametrize("name", NAMES)
def test_a_command_takes_its_defaults_from_the_declaration(name):
    parser = PARSERS[name]
    declared = {k.rsplit(".", 1)[-1]: s for k, s in C.declared() if name in s.get(C.COMMANDS, [])}
    actions = {a.dest: a for a in parser._actions if a.dest != "help"}
    for dest, spec in declared.items():
        assert dest in actions, f"{name}: declared key {dest} has no flag"
        assert actions[dest].default == spec["default"], (name, dest)
    for dest, action in actions.items():
        if dest in declared:
            continue
        assert action.default in (None, False, [], "", OWN_DEFAULTS.get(dest)), (
            f"{name} --{dest} has its own default {action.default!r}: declare the key in "
            f"config/schema.yaml instead"
        )


@pytest.mark.parametrize("name", NAMES)
def test_rule_flags_parse_back_to_the_config_values(name):
    campaign = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    text = C.rule_flags(campaign, name)
    parser = _subparsers(build_parser(only=name))[name]
    for action in parser._actions:
        action.required = False  # the paths a rule adds are not under test here
    known = parser.parse_args(shlex.split(text))
    for key, _ in [(k, s) for k, s in C.declared() if name in s.get(C.COMMANDS, [])]:
        value = C.lookup(campaign, key)
        if value is not None:
            assert getattr(known, key.rsplit(".", 1)[-1]) == value, (name, key)


DATACLASSES = [
    (ModelConfig, "transformer"),
    (TrainConfig, "training"),
    (MlipConfig, "mlip.model"),
    (MlipTrainConfig, "mlip.training"),
    (SamplingSpec, "mlip.data"),
    (IntegratorConfig, "trajectory.integrator"),
    (PredictorConfig, "trajectory.predictor"),
    (TrajectorySpec, "trajectory"),
    (SplitSpec, "dataset"),
    (ValidationConfig, "validation"),
    (ClusterSpec, "cluster"),
    (SegmentSpec, "splicing"),
    (KineticsConfig, "kinetics"),
    (FinderConfig, "kinetics"),
]


@pytest.mark.parametrize("cls,section", DATACLASSES, ids=lambda x: getattr(x, "__name__", x))
def test_library_defaults_agree_with_the_declaration(cls, section):
    declared = C.section_defaults(section)
    shared = [f for f in fields(cls) if f.name in declared and f.default is not MISSING]
    assert shared, f"{cls.__name__} shares no key with {section}"
    for f in shared:
        value = list(f.default) if isinstance(f.default, tuple) else f.default
        assert value == declared[f.name], (
            f"{cls.__name__}.{f.name} = {value!r}, "
            f"config/schema.yaml {section}.{f.name} = {declared[f.name]!r}"
        )


@pytest.mark.parametrize(
    "section,key,value,words",
    [
        ("transformer", "heads", 3, ["transformer.d_model", "transformer.heads"]),
        ("dataset", "test_fraction", 0.9, ["dataset.val_fraction", "dataset.test_fraction"]),
        ("transformer", "max_atoms", 20, ["55 atoms", "transformer.max_atoms"]),
        ("evaluation", "hint_sizes", [0, 1, 99], ["evaluation.hint_sizes", "[99]"]),
        ("mlip", "model", {**C.section_defaults("mlip.model"), "heads": 3}, ["mlip.model.heads"]),
        (
            "trajectory",
            "predictor",
            {**C.section_defaults("trajectory.predictor"), "hold": "mlip"},
            ["trajectory.predictor.hold", "mlip.enabled"],
        ),
        (
            "trajectory",
            "integrator",
            {**C.section_defaults("trajectory.integrator"), "hold": "mlip"},
            ["trajectory.integrator.hold", "mlip.enabled"],
        ),
        (
            "trajectory",
            "predictor",
            {**C.section_defaults("trajectory.predictor"), "taper_start": 4.0},
            ["trajectory.predictor.taper_start (4 Å)", "trajectory.predictor.cutoff (4 Å)"],
        ),
        (
            "splicing",
            "trajectories",
            3,
            ["splicing.workers (4)", "splicing.trajectories (3)"],
        ),
    ],
)
def test_cross_field_checks_name_the_keys(section, key, value, words):
    campaign = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    campaign[section][key] = value
    campaign["trajectory"]["enabled"] = True  # the trajectory section is checked when it runs
    with pytest.raises(C.ConfigError) as err:
        C.check(campaign, REPO)
    assert all(w in str(err.value) for w in words), str(err.value)


def test_a_key_reaches_exactly_the_commands_that_read_it():
    campaign = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    before = {name: C.rule_flags(campaign, name) for name in NAMES}
    campaign["splicing"]["state_tol"] = 0.2
    changed = {n for n in NAMES if C.rule_flags(campaign, n) != before[n]}
    assert changed == {
        "run-segments",
        "splice-round",
        "kinetics-start",
        "kinetics-search",
        "kinetics-round",
        "evaluate-transformer",
        "explore-transitions",
        "judge-transformer",
        "validate-shard",
        "generate",
    }
