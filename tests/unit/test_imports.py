"""Imports flow one way: foundations → stages → validation → kinetics → commands
(docs/design.md §1).

A module may import hopformer modules of a lower layer, or of its own package; the stages of
one layer never import each other; every hopformer import sits at the top of its module (an
import hidden in a function is how a cycle hides)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "hopformer"

# The layer of each top-level part of the package.
LAYERS = {
    "streams": 0,
    "console": 0,
    "physics": 1,
    "data": 2,
    "ml": 2,
    "config": 2,
    "reference": 3,
    "splicing": 3,
    "transformer": 3,
    "surrogates": 3,
    "mlip": 3,
    "report": 3,
    "validation": 4,
    "kinetics": 5,
    "cli": 7,
    "__main__": 8,
}
COMMANDS = 6  # every <stage>/commands.py: the command line, above all library code


def _module(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> tuple[str, int]:
    parts = module.split(".")
    if len(parts) == 1:
        return "hopformer", 0
    if parts[-1] == "commands":
        return parts[1], COMMANDS
    return parts[1], LAYERS[parts[1]]


def _imports(tree: ast.Module):
    """(hopformer module imported, at module level?) of every import statement."""
    top = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("hopformer"):
            yield node.module, id(node) in top, node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("hopformer"):
                    yield alias.name, id(node) in top, node.lineno


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_part_of_the_package_has_a_layer():
    parts = {p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in MODULES}
    assert parts - {"__init__"} <= set(LAYERS), parts - set(LAYERS)


def violations(module: str, source: str) -> list[str]:
    """What is wrong with the hopformer imports of ``module`` (its ``source``)."""
    part, layer = _layer(module)
    out = []
    for target, at_top, line in _imports(ast.parse(source)):
        where = f"{module}:{line} imports {target}"
        if not at_top:
            out.append(f"{where} inside a function: import it at the top of the module")
        if target == "hopformer":
            continue
        target_part, target_layer = _layer(target)
        if target_part == part and layer != COMMANDS:
            continue  # within one package
        if not (target_layer < layer or (target_part == part and target_layer == COMMANDS)):
            out.append(
                f"{where}: layer {layer} ({part}) may import only lower layers "
                f"({target_part} is layer {target_layer})"
            )
    return out


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path):
    assert violations(_module(path), path.read_text()) == []


def test_the_check_catches_upward_sideways_and_hidden_imports():
    assert violations(
        "hopformer.physics.potentials", "from hopformer.mlip.calculator import load_network\n"
    )
    assert violations("hopformer.mlip.data", "from hopformer.surrogates.runs import bulk_cell\n")
    assert violations(
        "hopformer.physics.relax", "def f():\n    from hopformer.physics.states import quench\n"
    )
    assert not violations(
        "hopformer.validation.shard", "from hopformer.transformer.examples import Example\n"
    )
