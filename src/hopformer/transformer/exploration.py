"""Exploration: the transitions the model finds from hints made without knowing the final
state, beside the model-free ways of doing the same job, measured in the same run.

For every held-out initial state, four kinds of candidate are relaxed with the splicing
quench (docs/design.md §6):

- **model** — ``sampled``: ``samples`` seeded draws with no hint; ``surface``: the mode
  candidate for each of ``surface_hints`` hints that move one surface atom to an empty
  neighbouring site;
- **model-free** — ``site_move``: the same atom moved to the same site, nothing else
  (one per surface hint); ``kick``: every atom displaced by a seeded Gaussian of
  σ = :data:`KICK_SIGMA` (one per sample).

Each relaxed candidate that is a minimum other than the initial one is a *new minimum*;
the distinct new minima are counted per kind (a minimum two kinds found counts for both),
and each is compared with every transition MD saw from the state: the ones MD never saw are
*novel*. The yield of a kind is its distinct new minima per candidate. The model's
candidates are drawn first and exactly as without the baselines, so its figures do not
depend on them. (Whether a minimum has a single-barrier path is for NEB validation.)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

import numpy as np

from hopformer.physics.relax import Relaxer
from hopformer.physics.states import MOVED, align, hyperdistance, max_displacement
from hopformer.streams import EXPLORE_KICK, SAMPLE, STATE_CHOICE, SURFACE, chosen, rng, seed_of
from hopformer.transformer.evaluation import hint_free_candidates
from hopformer.transformer.examples import Example
from hopformer.transformer.network import TransitionModel

#: Å; the width of the model-free whole-cluster kick.
KICK_SIGMA = 0.3
MODEL_KINDS = ("sampled", "surface")
#: The model-free counterpart of each model kind.
COUNTERPART = {"surface": "site_move", "sampled": "kick"}
KINDS = MODEL_KINDS + tuple(COUNTERPART.values())


def explored_groups(
    examples: Sequence[Example], max_states: int | None, seed: int
) -> dict[int, list[Example]]:
    """The held-out states exploration visits (a seeded choice of at most ``max_states``),
    each with its MD transitions: the one choice of ``explore-transitions`` and of every
    learning-curve point."""
    groups: dict[int, list[Example]] = defaultdict(list)
    for ex in examples:
        groups[ex.initial_state].append(ex)
    return {s: groups[s] for s in chosen(sorted(groups), max_states, seed, STATE_CHOICE)}


def model_free_candidates(
    ex: Example, hints: list[tuple[int, np.ndarray]], samples: int, kicks: np.random.Generator
) -> list[tuple[np.ndarray, str]]:
    """The model-free candidates of one state: each hint's atom moved to its site, and
    ``samples`` Gaussian kicks of the whole cluster."""
    out = []
    for atom, site in hints:
        moved = ex.initial.copy()
        moved[atom] = site
        out.append((moved, "site_move"))
    for _ in range(samples):
        out.append((ex.initial + kicks.normal(scale=KICK_SIGMA, size=ex.initial.shape), "kick"))
    return out


def explore(
    model: TransitionModel,
    relaxer: Relaxer,
    groups: dict[int, list[Example]],
    samples: int,
    surface_hints: int,
    seed: int,
    log: Callable[[str], None] = lambda m: None,
) -> tuple[list[dict], dict]:
    """Exploration of every initial state in ``groups`` (state → the MD transitions from it;
    the first is the representative whose atom order the candidates use): one row per
    distinct new minimum any kind found, and the summary (see :func:`summarise`)."""
    rows: list[dict] = []
    missing_sites = 0
    per_kind = {k: defaultdict(int) for k in (*KINDS, "model", "model_free")}
    md_total = 0
    for s, md in sorted(groups.items()):
        ex = md[0]
        hints: list = []
        cands, missing = hint_free_candidates(
            model,
            ex,
            samples,
            surface_hints,
            seed_of(seed, SAMPLE, s),
            rng(seed, SURFACE, s),
            hints,
        )
        cands += model_free_candidates(ex, hints, samples, rng(seed, EXPLORE_KICK, s))
        missing_sites += missing
        found: list[dict] = []
        for cand, kind in cands:
            tally = per_kind[kind]
            tally["candidates"] += 1
            res = relaxer.relax(cand, ex.numbers)
            if not res.ok:
                tally[res.status] += 1
                continue
            if relaxer.same(ex.initial, res.positions, ex.numbers):
                tally["back_to_initial"] += 1
                continue
            tally["valid"] += 1
            hit = next((f for f in found if relaxer.same(f["x"], res.positions, ex.numbers)), None)
            if hit is None:
                md_final = next(
                    (m.final_state for m in md if relaxer.same(m.final, res.positions, ex.numbers)),
                    -1,
                )
                hit = {
                    "x": res.positions,
                    "energy": res.energy,
                    "candidates": 0,
                    "kinds": set(),
                    "md_final_state": md_final,
                }
                found.append(hit)
            hit["candidates"] += 1
            hit["kinds"].add(kind)
        md_total += len(md)
        for kind in (*KINDS, "model", "model_free"):
            mine = [f for f in found if f["kinds"] & _kinds_of(kind)]
            tally = per_kind[kind]
            tally["distinct"] += len(mine)
            tally["novel"] += sum(f["md_final_state"] < 0 for f in mine)
            tally["md_recovered"] += len({f["md_final_state"] for f in mine} - {-1})
        if found:
            initial_energy = relaxer.energy(ex.initial, ex.numbers)
            rows += [_row(s, ex, f, initial_energy) for f in found]
        log(f"explore: state {s}: {len(cands)} candidates, {len(found)} distinct new minima")
    return rows, summarise(len(groups), md_total, missing_sites, per_kind)


def _kinds_of(name: str) -> set[str]:
    if name == "model":
        return set(MODEL_KINDS)
    if name == "model_free":
        return set(COUNTERPART.values())
    return {name}


def _row(state: int, ex: Example, f: dict, initial_energy: float) -> dict:
    final = align(ex.initial, f["x"])
    disp = np.linalg.norm(final - ex.initial, axis=1)
    return {
        "initial_state": state,
        "initial_energy": initial_energy,
        "final_energy": f["energy"],
        "delta_energy": f["energy"] - initial_energy,
        "max_displacement": max_displacement(ex.initial, final),
        "hyperdistance": hyperdistance(ex.initial, final),
        "atoms_moved": int((disp > MOVED).sum()),
        "candidates": f["candidates"],
        "hint_kinds": ",".join(sorted(f["kinds"])),
        "md_final_state": f["md_final_state"],
        "novel": f["md_final_state"] < 0,
        "numbers": ex.numbers,
        "initial_positions": ex.initial,
        "final_positions": final,
    }


def summarise(n_states: int, md_total: int, missing_sites: int, per_kind: dict) -> dict:
    """The model's figures as they were before the baselines (``candidates``: what became of
    its candidates; distinct, novel and recovered MD transitions), then ``methods``: for each
    kind, the model's kinds together and the model-free ones together — candidates, their
    outcomes, distinct new minima and their yield per candidate, novel and recovered MD
    transitions; and ``model_vs_model_free``: each model kind's yield over its counterpart's
    (same states, same sites, as many candidates)."""
    for kind, group in (("model", MODEL_KINDS), ("model_free", tuple(COUNTERPART.values()))):
        for key in {k for g in group for k in per_kind[g]} - {"distinct", "novel", "md_recovered"}:
            per_kind[kind][key] = sum(per_kind[g][key] for g in group)
    methods = {}
    for kind, tally in per_kind.items():
        n = tally["candidates"]
        methods[kind] = dict(sorted(tally.items())) | {
            "per_candidate": tally["distinct"] / n if n else 0.0,
            "md_recovered_fraction": tally["md_recovered"] / md_total if md_total else 0.0,
        }
    ratios = {}
    for model_kind, free_kind in (*COUNTERPART.items(), ("model", "model_free")):
        free = methods[free_kind]["per_candidate"]
        mine = methods[model_kind]["per_candidate"]
        ratios[f"{model_kind}/{free_kind}"] = mine / free if free else None
    model = methods["model"]
    outcomes = {
        k: v
        for k, v in per_kind["model"].items()
        if k not in ("candidates", "distinct", "novel", "md_recovered")
    }
    outcomes |= {f"{k}_candidates": per_kind[k]["candidates"] for k in MODEL_KINDS}
    if missing_sites:
        outcomes["no_surface_site"] = missing_sites
    return {
        "initial_states": n_states,
        "candidates": dict(sorted(outcomes.items())),
        "distinct_transitions": model["distinct"],
        "distinct_per_state": model["distinct"] / n_states if n_states else 0.0,
        "novel_transitions": model["novel"],
        "md_transitions": md_total,
        "md_transitions_recovered": model["md_recovered"],
        "methods": dict(sorted(methods.items())),
        "model_vs_model_free": ratios,
    }


def method_rows(summary: dict) -> list[dict]:
    """The ``methods`` of a summary as table rows (the report's exploration table)."""
    rows = []
    for kind in (*MODEL_KINDS, "model", *COUNTERPART.values(), "model_free"):
        m = summary["methods"][kind]
        rows.append(
            {
                "method": kind,
                "uses_model": kind in (*MODEL_KINDS, "model"),
                "candidates": m["candidates"],
                "distinct_new_minima": m["distinct"],
                "per_candidate": m["per_candidate"],
                "novel": m["novel"],
                "md_recovered": m["md_recovered"],
                "md_recovered_fraction": m["md_recovered_fraction"],
            }
        )
    return rows
