"""One file format for every trained model: a ``torch.save`` of plain data only,

``{"format": FORMAT, "kind": ..., "config": {...}, "weights": {name: tensor}, "summary": {...}}``

``kind`` is ``transformer``, ``mlip``, ``integrator`` or ``predictor``; ``config`` holds what
rebuilds the network (plain numbers and strings), ``summary`` how it was trained. A model file
is user input (``potential.source``, ``--model``): it is read with
``torch.load(path, weights_only=True)``, which unpickles tensors and plain containers only,
so a crafted file cannot run code; anything else in it is refused with the file's name.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from hopformer.physics.io import atomic_path

FORMAT = "hopformer-model/1"
KINDS = ("transformer", "mlip", "integrator", "predictor")


class ModelFileError(ValueError):
    """A model file that is missing, unreadable, unsafe or of another kind."""


def save_model_file(
    path: str | os.PathLike,
    kind: str,
    config: dict,
    model: torch.nn.Module,
    summary: dict | None = None,
) -> Path:
    """Write ``model``'s weights (moved to the CPU) atomically in the one format."""
    if kind not in KINDS:
        raise ValueError(f"model kind {kind!r}: expected one of {', '.join(KINDS)}")
    weights = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    blob = {
        "format": FORMAT,
        "kind": kind,
        "config": dict(config),
        "weights": weights,
        "summary": dict(summary or {}),
    }
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(blob, tmp)
    return path


def read_model_file(path: str | os.PathLike, kind: str, how: str = "") -> dict:
    """The contents of a model file of ``kind``; every failure names the file (and ``how``
    to make a right one, when given)."""
    path = Path(path)
    hint = f" ({how})" if how else ""
    if not path.is_file():
        raise ModelFileError(f"{kind} model {path}: no such file{hint}")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle payloads, truncation, foreign formats: all refused here
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(
            f"{path}: not a hopformer model file, or not a safe one ({first}){hint}"
        ) from exc
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a hopformer model file (no {FORMAT!r} format tag){hint}")
    if blob.get("kind") != kind:
        raise ModelFileError(
            f"{path}: a {blob.get('kind')!r} model file, expected a {kind!r} one{hint}"
        )
    for key, typ in (("config", dict), ("weights", dict), ("summary", dict)):
        if not isinstance(blob.get(key), typ):
            raise ModelFileError(f"{path}: model file without its {key!r}{hint}")
    return blob


def build_model(blob: dict, path: str | os.PathLike, make) -> torch.nn.Module:
    """``make(config)`` with the file's weights loaded; a config the network does not take,
    or weights that do not fit it, is an error naming the file."""
    try:
        model = make(blob["config"])
    except (TypeError, ValueError, KeyError) as exc:
        raise ModelFileError(
            f"{path}: its config does not describe a {blob['kind']} ({exc})"
        ) from exc
    try:
        model.load_state_dict(blob["weights"])
    except RuntimeError as exc:
        raise ModelFileError(
            f"{path}: weights do not fit the network its config describes "
            f"({str(exc).splitlines()[0]})"
        ) from exc
    return model
