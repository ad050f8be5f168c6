"""Figures, written atomically as PNG (matplotlib's Agg backend: no display needed)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from hopformer.physics.io import atomic_path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_accuracy(rows: Sequence[dict], path: str | os.PathLike, title: str = "") -> None:
    """accuracy(k) of the model beside the model-free baseline, against k / N (DESIGN.md §6)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4.0), dpi=120)
    x = [r["k_fraction"] for r in rows]
    ax.plot(x, [100 * r["accuracy"] for r in rows], "o-", label="transformer")
    ax.plot(x, [100 * r["baseline_accuracy"] for r in rows], "s--", label="baseline (relax hint)")
    for r in rows:
        ax.annotate(f"k={r['k']}", (r["k_fraction"], 100 * r["accuracy"]), fontsize=7,
                    textcoords="offset points", xytext=(3, -10))  # fmt: skip
    n = max((r["transitions"] for r in rows), default=0)
    ax.set_xlabel("hint size k / N (atoms with known final positions)")
    ax.set_ylabel("held-out transitions reproduced, %")
    ax.set_ylim(-3, 103)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title(title or f"accuracy(k) on {n} held-out transitions")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
