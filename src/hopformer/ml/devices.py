"""Where a model trains or runs: ``auto`` takes CUDA when torch sees a device, else the CPU."""

from __future__ import annotations

import torch

DEVICES = ("auto", "cpu", "cuda")


def choose_device(name: str) -> str:
    """``cpu`` or ``cuda`` for a config's ``device`` value; a CUDA request without a device,
    or an unknown name, is an error naming the value and the choices."""
    if name not in DEVICES:
        raise ValueError(f"device {name!r}: expected one of {', '.join(DEVICES)}")
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device is 'cuda' but torch sees no CUDA device (use 'auto' or 'cpu')")
    return name
