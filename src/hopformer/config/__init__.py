"""The campaign configuration, declared once.
``config/schema.yaml`` (shipped in this package as ``schema.yaml``) declares every key: its
type, bounds, default and description, and under ``x-commands`` the ``hopformer``
subcommands that take it as a ``--flag``. Everything else derives from it:

* Snakemake validates a campaign's config against it and fills in the defaults;
* :func:`add_flags` gives a subcommand its flags — name, type, choices, default and help from
  the declaration — so a command's default is always the schema's;
* :func:`rule_flags` gives a rule the ``--flag value`` arguments of the keys its command takes,
  so editing a key reruns exactly the rules whose commands read it;
* :func:`prepare` (in :mod:`hopformer.config.checks`) checks a campaign when the workflow
  starts, before any job: each key against its declaration, the checks that span keys, and
  the files the campaign names.
"""

from __future__ import annotations

import argparse
import operator
import shlex
from collections.abc import Iterator
from dataclasses import fields
from functools import cache
from pathlib import Path

import yaml

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


#: The numeric bounds of a declaration: (sign in messages, the test a value must pass).
BOUNDS = {
    "minimum": ("≥", operator.ge),
    "exclusiveMinimum": (">", operator.gt),
    "maximum": ("≤", operator.le),
    "exclusiveMaximum": ("<", operator.lt),
}


def _bounded(kind, spec: dict):
    """``kind`` that also refuses values outside the declared bounds (:data:`BOUNDS`)."""
    tests = [(b, sign, ok) for b, (sign, ok) in BOUNDS.items() if b in spec]
    name = {int: "an integer", float: "a number"}.get(kind)

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {name}, got {text!r}") from None
        for bound, sign, ok in tests:
            if not ok(value, spec[bound]):
                raise argparse.ArgumentTypeError(f"expected {sign} {spec[bound]}, got {text!r}")
        return value

    parse.__name__ = kind.__name__
    return parse if tests else kind


def _list_of(kind, spec: dict | None = None):
    name = {int: "integers", float: "numbers", str: "names"}[kind]
    item = _bounded(kind, spec or {}) if kind in (int, float) else kind

    def parse(text: str) -> list:
        try:
            return [item(x) for x in text.split(",") if x.strip()]
        except (ValueError, argparse.ArgumentTypeError) as exc:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated {name}, got {text!r} ({exc})"
            ) from None

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
        # argparse formats help with %: a literal one ("to 5 %") must be doubled
        text = spec["description"].replace("%", "%%")
        kwargs = {"default": spec["default"], "help": f"{text} [{key}]"}
        if kind == "array":
            item = spec.get("items", {})
            kwargs["type"] = _list_of(_ITEMS[_types(item)[0] if "type" in item else "string"], item)
            kwargs["metavar"] = "A,B,..."
        elif kind in ("integer", "number"):
            kwargs["type"] = _bounded(_SCALARS[kind], spec)
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


# The checks of a whole campaign (schema, cross-key, user files): hopformer.config.checks.
from hopformer.config.checks import check as check  # noqa: E402
from hopformer.config.checks import cluster_size as cluster_size  # noqa: E402
from hopformer.config.checks import prepare as prepare  # noqa: E402
from hopformer.config.checks import read_yaml as read_yaml  # noqa: E402
