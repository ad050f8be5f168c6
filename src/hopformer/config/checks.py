"""A campaign's config checked before its first job (docs/design.md, "When something goes
wrong"): what can be known from the config and the files it names is checked when the
workflow starts, so a bad value fails in seconds, not after the MD.

:func:`prepare` is what the Snakefile runs: each key against its declaration (one line per
problem, naming the key, the value and what was expected, with the nearest declared name for
a misspelt key), the declared defaults filled in, then :func:`check` — the checks that span
keys and the user's files (``potential.source``, ``cluster.file``), parsed as their jobs will
parse them. Every failure is a :class:`~hopformer.config.ConfigError`.
"""

from __future__ import annotations

import copy
import difflib
import os
import shutil
from pathlib import Path

import yaml

from hopformer.config import BOUNDS, ConfigError, lookup, schema
from hopformer.physics.clusters import build_cluster, read_cluster
from hopformer.physics.eam import read_potential
from hopformer.physics.potentials import plugin_for

#: The smallest share of initial states left to the train split by the held-out fractions.
MIN_TRAIN_SHARE = 0.1


def read_yaml(path: str | os.PathLike) -> dict:
    """A YAML config file as a mapping; a syntax error names the file, line and column."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror})") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: YAML syntax error: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: YAML syntax error: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: a config file is a mapping of keys (campaign: ..., splicing: ...), "
            f"got a {type(data).__name__}"
        )
    return data


def validate(config: dict) -> None:
    """Every key of ``config`` against its declaration; all problems in one error."""
    from jsonschema import Draft202012Validator

    errors = Draft202012Validator(schema()).iter_errors(config)
    problems = sorted(_message(e) for e in errors)
    if problems:
        raise ConfigError("config:\n  " + "\n  ".join(problems))


def _message(err) -> str:
    key = ".".join(map(str, err.absolute_path))
    value, spec, rule = err.instance, err.schema, err.validator
    if rule == "additionalProperties":
        declared = list(spec.get("properties", {}))
        lines = []
        for name in sorted(set(value) - set(declared)):
            near = difflib.get_close_matches(str(name), declared, n=1, cutoff=0.5)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            lines.append(
                f"{key + '.' if key else ''}{name}: not a key of {key or 'the config'} "
                f"(declared: {', '.join(declared)}){hint}"
            )
        return "\n  ".join(lines)
    expected = {
        **{
            bound: (lambda b, sign=sign: f"expected {sign} {b}")
            for bound, (sign, _) in BOUNDS.items()
        },
        "enum": lambda b: f"expected one of {', '.join(map(str, b))}",
        "type": lambda b: f"expected {' or '.join(b) if isinstance(b, list) else b}",
        "minItems": lambda b: f"expected at least {b} item(s)",
        "pattern": lambda b: spec.get("x-expected", f"expected to match {b}"),
    }.get(rule)
    what = expected(err.validator_value) if expected else err.message
    return f"{key or 'the config'} = {value!r}: {what}"


def fill_defaults(config: dict, spec: dict | None = None) -> dict:
    """``config`` with every undeclared-by-the-user key set to its declared default (in place)."""
    spec = schema() if spec is None else spec
    for name, sub in spec["properties"].items():
        if sub.get("type") == "object":
            node = config.setdefault(name, copy.deepcopy(sub.get("default", {})))
            if isinstance(node, dict) and "properties" in sub:
                fill_defaults(node, sub)
        elif "default" in sub:
            config.setdefault(name, copy.deepcopy(sub["default"]))
    return config


def prepare(config: dict, root: str | os.PathLike = ".") -> dict:
    """Validate ``config``, fill in the defaults and run :func:`check` (in place)."""
    validate(config)
    fill_defaults(config)
    check(config, root)
    return config


def user_path(value: str, root: str | os.PathLike = ".") -> Path:
    """A file named in the config: absolute, or relative to the workflow's folder."""
    return Path(value) if Path(value).is_absolute() else Path(root) / value


def cluster_size(config: dict, root: str | os.PathLike = ".") -> int:
    """Atoms of the campaign's starting cluster: built (cheap) or read from ``cluster.file``
    (with every check its job makes: readable, free, no overlapping or detached atoms)."""
    c = config["cluster"]
    if c.get("file"):
        try:
            return len(read_cluster(user_path(c["file"], root)))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cluster.file {c['file']!r}: {exc}") from None
    atoms = build_cluster(
        config["potential"]["element"],
        c["shape"],
        shells=c["shells"],
        p=c["p"],
        q=c["q"],
        r=c["r"],
        length=c["length"],
        cutoff=c["cutoff"],
        lattice_constant=4.0,
    )
    return len(atoms) + c.get("adatoms", 0)


def check_potential(config: dict, root: str | os.PathLike = ".") -> None:
    """``potential.source``: the generated table, or a user file parsed as make_potential
    will parse it (an EAM table holding ``potential.element``, or a model file)."""
    source, element = config["potential"]["source"], config["potential"]["element"]
    if source == "zhou2004":
        return
    path = user_path(source, root)
    if not path.is_file():
        made = (
            "; a model file is made by the MLIP stage of a campaign with mlip.enabled: run "
            "that campaign first"
            if path.suffix == ".pt"
            else ""
        )
        raise ConfigError(
            f"potential.source {source!r}: no such file (expected 'zhou2004', a setfl/funcfl "
            f"EAM file or a hopformer MLIP model file *.pt{made})"
        )
    try:
        plugin = plugin_for(path)
        if plugin is not None:
            plugin.check(str(path))
            return
        elements = read_potential(path).elements
    except (OSError, ValueError) as exc:
        raise ConfigError(f"potential.source: {exc}") from None
    if element not in elements:
        raise ConfigError(
            f"potential.source {source!r} holds {', '.join(elements)}, not potential.element "
            f"({element})"
        )


def c_compiler() -> str | None:
    """The C++ compiler torch.compile's CPU kernels would be built with, or None."""
    names = [os.environ["CXX"]] if os.environ.get("CXX") else ["g++", "c++"]
    return next((path for name in names if (path := shutil.which(name))), None)


def check(config: dict, root: str | os.PathLike = ".") -> None:
    """The checks that span keys and the user's files, run before the first job; each
    failure names the keys."""
    problems = []
    t = config["transformer"]
    if t["d_model"] % t["heads"]:
        problems.append(
            f"transformer.d_model ({t['d_model']}) must be a multiple of "
            f"transformer.heads ({t['heads']})"
        )
    d = config["dataset"]
    held_out = d["val_fraction"] + d["test_fraction"]
    if 1 - held_out < MIN_TRAIN_SHARE:
        problems.append(
            f"dataset.val_fraction + dataset.test_fraction = {held_out:g} leaves "
            f"{max(0.0, 1 - held_out):.0%} of the states to train on (expected a sum ≤ "
            f"{1 - MIN_TRAIN_SHARE:g})"
        )
    m = config["mlip"]["model"]
    if m["width"] % m["heads"]:
        problems.append(
            f"mlip.model.width ({m['width']}) must be a multiple of mlip.model.heads ({m['heads']})"
        )
    sp = config["splicing"]
    if sp["workers"] % sp["trajectories"]:
        problems.append(
            f"splicing.workers ({sp['workers']}) must be a multiple of splicing.trajectories "
            f"({sp['trajectories']}): each trajectory gets an equal share of the segment jobs"
        )
    traj = config["trajectory"]
    for key, base_key in (
        ("stride_fs", "timestep_fs"),
        ("integrator.stride_fs", "stride_fs"),
        ("predictor.horizon_fs", "stride_fs"),
        ("predictor.long_step_fs", "stride_fs"),
    ):
        value, base = lookup(traj, key), traj[base_key]
        if value is None:  # a null long_step_fs: the horizon
            continue
        if abs(value / base - round(value / base)) > 1e-9 or round(value / base) < 1:
            problems.append(
                f"trajectory.{key} ({value:g} fs) must be a multiple of "
                f"trajectory.{base_key} ({base:g} fs)"
            )
    for surrogate in ("integrator", "predictor"):
        if traj["enabled"] and traj[surrogate]["hold"] == "mlip" and not config["mlip"]["enabled"]:
            problems.append(
                f"trajectory.{surrogate}.hold is mlip, but mlip.enabled is false: the hold "
                "needs this campaign's MLIP (enable it, or hold on the reference)"
            )
        start, cutoff = traj[surrogate]["taper_start"], traj[surrogate]["cutoff"]
        if start >= cutoff:
            problems.append(
                f"trajectory.{surrogate}.taper_start ({start:g} Å) must be below "
                f"trajectory.{surrogate}.cutoff ({cutoff:g} Å): edges fade between the two"
            )
    long_fs, horizon = traj["predictor"]["long_step_fs"], traj["predictor"]["horizon_fs"]
    if long_fs is not None and long_fs > horizon:
        problems.append(
            f"trajectory.predictor.long_step_fs ({long_fs:g} fs) must be a step the model "
            f"learns: up to trajectory.predictor.horizon_fs ({horizon:g} fs)"
        )
    if traj["enabled"] and traj["predictor"]["long_compile"] and not c_compiler():
        problems.append(
            "trajectory.predictor.long_compile is true, but no C++ compiler ($CXX, g++ or c++) "
            "is on PATH: torch.compile builds its kernels with one (install it, or set "
            "long_compile: false)"
        )
    if traj["predictor"]["leapfrog"] and traj["predictor"]["tie_corrections"]:
        problems.append(
            "trajectory.predictor.leapfrog and tie_corrections are both true: the leapfrog "
            "step already ties the position to the velocity change (set tie_corrections: false)"
        )
    fractions = lookup(config, "learning_curve.fractions") or []
    if len({f"{f:g}" for f in fractions}) < len(fractions):
        problems.append(
            f"learning_curve.fractions {fractions}: a share given twice (each names one "
            "folder, results/<campaign>/learning/f<share>-s<seed>)"
        )
    try:
        check_potential(config, root)
    except ConfigError as exc:
        problems.append(str(exc))
    try:
        n = cluster_size(config, root)
    except ConfigError as exc:
        problems.append(str(exc))
        n = None
    if n is not None:
        if n > t["max_atoms"]:
            problems.append(
                f"the starting cluster has {n} atoms, more than transformer.max_atoms "
                f"({t['max_atoms']})"
            )
        for key in ("evaluation.hint_sizes", "validation.hint_sizes", "learning_curve.hint_sizes"):
            too_big = [k for k in lookup(config, key) or [] if k > n]
            if too_big:
                problems.append(
                    f"{key} {too_big}: a hint cannot name more than the cluster's {n} atoms"
                )
    if problems:
        raise ConfigError("config: " + "; ".join(problems))
