"""The config's own command (``hopformer check-config``): a campaign checked as the workflow
will check it, without Snakemake — also the files given with ``--configfile``, whose YAML
syntax errors Snakemake reports without a line (docs/design.md §11)."""

from __future__ import annotations

from pathlib import Path

from hopformer.config import prepare, read_yaml
from hopformer.console import log


def merged(base: dict, extra: dict) -> dict:
    """``base`` updated by ``extra`` section by section, as Snakemake merges config files."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


class CheckConfig:
    """check a campaign's config (and its files) as the workflow will, before any job"""

    @staticmethod
    def add_arguments(p):
        p.add_argument(
            "--configfile",
            nargs="*",
            default=[],
            help="campaign files layered over config/config.yaml, as given to snakemake",
        )
        p.add_argument("--root", default=None, help="the workflow's folder (default: here)")

    @staticmethod
    def run(args):
        root = Path(args.root or ".")
        config = read_yaml(root / "config" / "config.yaml")
        for path in args.configfile:
            config = merged(config, read_yaml(path))
        prepare(config, root)
        log(f"config of campaign {config['campaign']!r}: no problem found")
