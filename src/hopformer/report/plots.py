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
    """accuracy(k) of the model beside the model-free baseline, against k / N
    (docs/design.md §6)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4.0), dpi=120)
    x = [r["k_fraction"] for r in rows]
    ax.plot(x, [100 * r["accuracy"] for r in rows], "o-", label="transformer")
    ax.plot(x, [100 * r["baseline_accuracy"] for r in rows], "s--", label="baseline (relax hint)")
    for r in rows:
        ax.annotate(
            f"k={r['k']}",
            (r["k_fraction"], 100 * r["accuracy"]),
            fontsize=7,
            textcoords="offset points",
            xytext=(3, -10),
        )
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


def plot_mep(rows: Sequence[dict], path: str | os.PathLike, most: int = 12) -> None:
    """Minimum-energy paths (relative energy against the path's arc length, Å) of up to
    ``most`` transitions: the ones MD saw most, then the novel ones with the lowest barrier."""
    import numpy as np

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 4.2), dpi=120)
    drawn = [r for r in rows if r["path_images"]]
    seen = sorted((r for r in drawn if r["md_count"] > 0), key=lambda r: -r["md_count"])
    novel = sorted(
        (r for r in drawn if r["md_count"] == 0 and r["barrier"] is not None),
        key=lambda r: r["barrier"],
    )
    chosen = seen[: most // 2] + novel[: most - min(len(seen), most // 2)]
    chosen += [r for r in seen[most // 2 :] if len(chosen) < most]
    for r in chosen:
        n = len(r["numbers"])
        x = np.reshape(r["path_positions"], (-1, n, 3))
        arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(x, axis=0), axis=(1, 2)))])
        style = "-" if r["neb_status"] == "ok" else ":"
        label = f"{r['transition_id']} ({r['found_by']}, {r['neb_status']})"
        ax.plot(arc, r["path_energies"], style, marker="o", ms=3, label=label)
    ax.set_xlabel("path length (hyperdistance along the band), Å")
    ax.set_ylabel("energy relative to the initial minimum, eV")
    ax.grid(alpha=0.3)
    if chosen:
        ax.legend(fontsize=6, ncol=2, loc="best")
    ax.set_title(f"minimum-energy paths ({len(chosen)} of {len(drawn)})")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def plot_rates(
    pairs: Sequence[dict], min_count: int, temperature: float, path: str | os.PathLike
) -> None:
    """hTST rate against MD rate (log–log) with the 1:1 line and the ×3 band; transitions MD
    saw at least ``min_count`` times are filled, the rest hollow."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.0, 4.6), dpi=120)
    for filled, group in (
        (True, [p for p in pairs if p["md_count"] >= min_count]),
        (False, [p for p in pairs if p["md_count"] < min_count]),
    ):
        if not group:
            continue
        label = f"MD count ≥ {min_count}" if filled else f"MD count < {min_count}"
        ax.errorbar(
            [p["md_rate_per_ps"] for p in group],
            [p["htst_rate_per_ps"] for p in group],
            xerr=_log_error_bars(group),
            fmt="o",
            mfc=None if filled else "none",
            ms=5,
            label=label,
            alpha=0.8,
        )
    values = [v for p in pairs for v in (p["md_rate_per_ps"], p["htst_rate_per_ps"]) if v > 0]
    lo, hi = (min(values) / 3, max(values) * 3) if values else (1e-3, 1.0)
    ax.plot([lo, hi], [lo, hi], "k-", lw=1, label="hTST = MD")
    ax.fill_between(
        [lo, hi], [lo / 3, hi / 3], [lo * 3, hi * 3], color="grey", alpha=0.15, label="within ×3"
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("MD rate N_ij / τ_i, 1/ps")
    ax.set_ylabel("harmonic-TST rate ν·exp(−Ea/kT), 1/ps")
    ax.set_title(f"rates at {temperature:g} K ({len(pairs)} transitions)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def _log_error_bars(pairs: Sequence[dict]) -> list[list[float]]:
    """(lower, upper) MD error bars, the lower one kept above zero for a log axis (a rate
    seen once has a standard error as large as itself)."""
    lower = [min(p["md_rate_stderr_per_ps"], 0.9 * p["md_rate_per_ps"]) for p in pairs]
    return [lower, [p["md_rate_stderr_per_ps"] for p in pairs]]


def plot_rollout(run: str, curves: dict, path: str | os.PathLike) -> None:
    """A surrogate rollout against its reference MD: position error, MSD, structure (g(r) of a
    cell, pair distances of a cluster) and the VACF's vibrational spectrum."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(14.0, 3.6), dpi=110)
    t = curves["time_fs"]
    axes[0].plot(t, curves["position_error_pm"])
    axes[0].set_xlabel("time, fs")
    axes[0].set_ylabel("RMS position error, pm")
    lag = t[: len(curves["msd_model"])]
    panels = (
        (axes[1], lag, "msd", "lag, fs", "MSD, Å²"),
        (axes[2], curves["r"], "rdf", "r, Å", "g(r) / pair distances"),
        (axes[3], curves["frequency_thz"], "vdos", "frequency, THz", "VACF spectrum"),
    )
    for ax, x, key, xlabel, ylabel in panels:
        ax.plot(x, curves[f"{key}_reference"], label="reference MD")
        ax.plot(x, curves[f"{key}_model"], "--", label="surrogate")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=7)
    axes[3].set_xlim(0, 15)
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle(f"rollout from the first frame of {run}")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def plot_kinetics(
    tables: dict, stats: Sequence[dict], finders: Sequence[dict], md: Sequence[dict], path
) -> None:
    """The kinetics stage on four panels (docs/design.md §9): energy and state against
    simulated time; simulated time against wall time, KMC (search jobs) beside spliced MD
    (segment jobs); distinct validated events in the window per 1000 force calls, by finder
    and round."""
    plt = _pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(10, 7.5), dpi=110)
    traj = tables["trajectory"]
    t = [0.0] + [r["time_ps"] for r in traj]
    e0 = tables["states"][0]["energy"]
    energy = [0.0] + [r["energy"] - e0 for r in traj]
    state = [0] + [r["product"] for r in traj]
    ax = axes[0, 0]
    ax.step(t, energy, where="post")
    ax.set_xscale("symlog", linthresh=max(t[1] if len(t) > 1 else 1.0, 1e-6))
    ax.set(xlabel="simulated time, ps", ylabel="E − E(state 0), eV", title="KMC energy")
    ax = axes[0, 1]
    ax.step(t, state, where="post", color="C1")
    ax.set_xscale("symlog", linthresh=max(t[1] if len(t) > 1 else 1.0, 1e-6))
    ax.set(xlabel="simulated time, ps", ylabel="state", title="KMC state")
    ax = axes[1, 0]
    wall, sim = 0.0, 0.0
    xs, ys = [0.0], [0.0]
    for rnd in sorted({s["round"] for s in stats}):
        wall += sum(s["wall_s"] for s in stats if s["round"] == rnd)
        steps = [r for r in traj if r["round"] == rnd]
        sim = steps[-1]["time_ps"] if steps else sim
        xs.append(wall)
        ys.append(sim)
    ax.plot(xs, ys, "o-", label="KMC (search jobs' wall time)")
    if md:
        mw, mt = [0.0], [0.0]
        for r in md:
            mw.append(mw[-1] + r["wall_s"])
            mt.append(mt[-1] + r["duration_ps"])
        ax.plot(mw, mt, "-", label="MD (segment jobs' wall time)")
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set(xlabel="wall time, s", ylabel="simulated time, ps", title="reach")
    ax.legend(fontsize=8)
    ax = axes[1, 1]
    for name in sorted({r["finder"] for r in finders}):
        rows = [r for r in finders if r["finder"] == name]
        ax.plot(
            [r["round"] for r in rows], [r["events_per_1000_calls"] for r in rows], "o-", label=name
        )
    ax.set(xlabel="round", ylabel="new events in window / 1000 force calls", title="event finders")
    ax.legend(fontsize=8)
    for a in axes.ravel():
        a.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def plot_learning_curve(rows: Sequence[dict], path: str | os.PathLike) -> None:
    """The learning curve (docs/design.md §6): accuracy(k), the exploration yield per candidate
    and the no-hint recovery against the training transitions, model beside the model-free
    baselines; error bars are the spread over replicas."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(14.0, 4.0), dpi=110)
    x = [r["train_transitions"] for r in rows]
    ks = sorted(int(k[len("accuracy_k") :]) for k in rows[0] if _is_figure(k, "accuracy_k"))
    for i, k in enumerate(ks):
        color = f"C{i}"
        _bars(axes[0], x, rows, f"accuracy_k{k}", 100, color, f"k = {k}", "o-")
        base = [100 * r[f"baseline_k{k}"] for r in rows]
        axes[0].plot(x, base, ls="--", color=color, alpha=0.6)
    axes[0].set_ylabel("held-out transitions reproduced, %  (dashed: baseline)")
    axes[0].set_ylim(-3, 103)
    for kind, free, color in (("surface", "site_move", "C0"), ("sampled", "kick", "C1")):
        _bars(axes[1], x, rows, f"yield_{kind}", 1, color, kind, "o-")
        axes[1].plot(x, [r[f"yield_{free}"] for r in rows], ls="--", color=color, label=free)
    axes[1].set_ylabel("distinct new minima per candidate")
    _bars(axes[2], x, rows, "recovery", 100, "C2", "unhinted model draws", "o-")
    axes[2].plot(x, [100 * r["recovery_kick"] for r in rows], "--", color="C2", label="kicks")
    axes[2].set_ylabel("MD transitions of the explored states found, %")
    titles = ("accuracy(k)", "exploration yield", "no-hint recovery")
    for ax, title in zip(axes, titles, strict=True):
        ax.set_xscale("log")
        ax.set_xlabel("training transitions")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def _is_figure(name: str, prefix: str) -> bool:
    return name.startswith(prefix) and name[len(prefix) :].isdigit()


def _bars(ax, x, rows, name, scale, color, label, style):
    y = [scale * (r[name] or 0.0) for r in rows]
    err = [scale * (r[f"{name}_std"] or 0.0) for r in rows]
    ax.errorbar(x, y, yerr=err, fmt=style, color=color, label=label, capsize=3)
