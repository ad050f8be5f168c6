"""The campaign configuration, declared once.
``config/schema.yaml`` (shipped in this package as ``schema.yaml``) declares every key: its
type, bounds, default and description, and under ``x-commands`` the ``hopformer``
subcommands that take it as a ``--flag``. Everything else derives from it:

* Snakemake validates a campaign's config against it and fills in the defaults;
* :func:`add_flags` gives a subcommand its flags — name, type, choices, default and help from
  the declaration — so a command's default is always the schema's;
* :func:`rule_flags` gives a rule the ``--flag value`` arguments of the keys its command takes,
  so editing a key reruns exactly the rules whose commands read it;
* :func:`check` runs the checks that span keys (``d_model`` vs ``heads``, split fractions,
  the cluster vs ``max_atoms``) when the workflow starts, before any job.
"""

from __future__ import annotations

import argparse
import os
import shlex
from collections.abc import Iterator
from dataclasses import fields
from functools import cache
from pathlib import Path

import yaml

from hopformer.physics.clusters import build_cluster, read_cluster

SCHEMA = Path(__file__).with_name("schema.yaml")
COMMANDS = "x-commands"


class ConfigError(ValueError):
    """A campaign config that cannot run: the message names the key and what was expected."""


@cache
def schema() -> dict:
    with open(SCHEMA, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def declared(spec: dict | None = None, prefix: str = "") -> Iterator[tuple[str, dict]]:
    """(dotted key, its declaration) of every leaf key, in declaration order."""
    spec = schema() if spec is None else spec
    for name, sub in spec["properties"].items():
        if sub.get("type") == "object":
            yield from declared(sub, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", sub


def default(key: str):
    """The declared default of a dotted ``key``."""
    return dict(declared())[key]["default"]


def section_defaults(section: str) -> dict:
    """{key: default} of the leaf keys directly inside ``section`` (a dotted path)."""
    return {k.rsplit(".", 1)[1]: s["default"] for k, s in declared() if _parent(k) == section}


def section_values(args, section: str, exclude=()) -> dict:
    """{key: value} of ``section``'s keys from parsed flags: a section passed whole to the
    library (e.g. ``ModelConfig(**section_values(args, "transformer"))``)."""
    return {k: getattr(args, k) for k in section_defaults(section) if k not in exclude}


def dataclass_values(args, cls, exclude=()) -> dict:
    """{field: value} of the parsed flags named like the fields of dataclass ``cls`` (a
    library config built from a command's flags by name, never by position)."""
    return {f.name: getattr(args, f.name) for f in fields(cls) if f.name not in exclude}


def _parent(key: str) -> str:
    return key.rsplit(".", 1)[0] if "." in key else ""


def _flag(key: str) -> str:
    return "--" + key.rsplit(".", 1)[-1].replace("_", "-")


def _keys_of(command: str, section: str | None, only) -> list[tuple[str, dict]]:
    keys = [(k, s) for k, s in declared() if command in s.get(COMMANDS, ())]
    if section is not None:
        keys = [(k, s) for k, s in keys if _parent(k) == section]
    if only is not None:
        keys = [(k, s) for k, s in keys if k.rsplit(".", 1)[-1] in only]
    return keys


def _types(spec: dict) -> list[str]:
    t = spec.get("type", "string")
    return [x for x in (t if isinstance(t, list) else [t]) if x != "null"]


def _boolean(text: str) -> bool:
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _list_of(kind):
    name = {int: "integers", float: "numbers", str: "names"}[kind]

    def parse(text: str) -> list:
        try:
            return [kind(x) for x in text.split(",") if x.strip()]
        except ValueError as exc:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated {name}, got {text!r}"
            ) from exc

    return parse


_SCALARS = {"integer": int, "number": float, "string": str, "boolean": _boolean}
_ITEMS = {"integer": int, "number": float, "string": str}


def add_flags(
    parser: argparse.ArgumentParser, command: str, section: str | None = None, only=None
) -> None:
    """Add to ``parser`` a flag for every declared key that ``command`` takes (those of one
    ``section``, or ``only`` some names, when given)."""
    for key, spec in _keys_of(command, section, only):
        (kind,) = _types(spec)
        kwargs = {"default": spec["default"], "help": f"{spec['description']} [{key}]"}
        if kind == "array":
            item = spec.get("items", {})
            kwargs["type"] = _list_of(_ITEMS[_types(item)[0] if "type" in item else "string"])
            kwargs["metavar"] = "A,B,..."
        else:
            kwargs["type"] = _SCALARS[kind]
            if "enum" in spec:
                kwargs["choices"] = spec["enum"]
        parser.add_argument(_flag(key), **kwargs)


def rule_flags(config: dict, command: str, section: str | None = None, only=None) -> str:
    """``--flag value`` (shell-quoted) for every key ``command`` takes, from ``config``; a null
    value is left out, so the command's declared default (null) applies."""
    out = []
    for key, _ in _keys_of(command, section, only):
        value = lookup(config, key)
        if value is None:
            continue
        if isinstance(value, bool):
            value = str(value).lower()
        elif isinstance(value, list):
            value = ",".join(map(str, value))
        out += [_flag(key), str(value)]
    return " ".join(shlex.quote(x) for x in out)


def lookup(config: dict, key: str):
    node = config
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def cluster_size(config: dict, root: str | os.PathLike = ".") -> int:
    """Atoms of the campaign's starting cluster: built (cheap) or read from ``cluster.file``."""

    c = config["cluster"]
    if c.get("file"):
        path = Path(root) / c["file"]
        if not path.is_file():
            raise ConfigError(f"cluster.file {c['file']!r}: no such file")
        return len(read_cluster(path))
    element = config["potential"]["element"]
    atoms = build_cluster(
        element,
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


def check(config: dict, root: str | os.PathLike = ".") -> None:
    """The checks that span keys, run before the first job; each failure names the keys."""
    problems = []
    t = config["transformer"]
    if t["d_model"] % t["heads"]:
        problems.append(
            f"transformer.d_model ({t['d_model']}) must be a multiple of "
            f"transformer.heads ({t['heads']})"
        )
    d = config["dataset"]
    if d["val_fraction"] + d["test_fraction"] >= 1:
        problems.append(
            f"dataset.val_fraction + dataset.test_fraction = "
            f"{d['val_fraction'] + d['test_fraction']:g} leaves nothing to train on "
            f"(expected < 1)"
        )
    m = config["mlip"]["model"]
    if m["width"] % m["heads"]:
        problems.append(
            f"mlip.model.width ({m['width']}) must be a multiple of mlip.model.heads ({m['heads']})"
        )
    traj = config["trajectory"]
    for key, base_key in (
        ("stride_fs", "timestep_fs"),
        ("integrator.stride_fs", "stride_fs"),
        ("predictor.horizon_fs", "stride_fs"),
    ):
        value, base = lookup(traj, key), traj[base_key]
        if abs(value / base - round(value / base)) > 1e-9 or round(value / base) < 1:
            problems.append(
                f"trajectory.{key} ({value:g} fs) must be a multiple of "
                f"trajectory.{base_key} ({base:g} fs)"
            )
    n = cluster_size(config, root)
    if n > t["max_atoms"]:
        problems.append(
            f"the starting cluster has {n} atoms, more than transformer.max_atoms "
            f"({t['max_atoms']})"
        )
    too_big = [k for k in config["evaluation"]["hint_sizes"] or [] if k > n]
    if too_big:
        problems.append(
            f"evaluation.hint_sizes {too_big}: a hint cannot name more than the cluster's {n} atoms"
        )
    if problems:
        raise ConfigError("config: " + "; ".join(problems))
