"""Predict + validate one shard of initial states (rule ``validate_shard``, docs/design.md §7).

For every **held-out** initial state (the test split: the model never saw it) the shard

1. takes the MD transitions out of it (already quenched minima),
2. generates model candidates: for each MD transition and each k of ``hint_sizes`` the mode
   candidate with the k most-displaced atoms as hint (evaluation hints), plus ``samples``
   unhinted draws and ``surface_hints`` one-surface-atom hints (exploration hints, made
   without any final state) — and beside these their model-free counterparts on the same
   hints and seeds (:mod:`hopformer.transformer.exploration`): the hinted atom moved to its
   site (``site_move``) and ``samples`` 0.3 Å kicks of the cluster (``kick``),
3. relaxes every candidate with the splicing quench; rejected candidates (overlap, not
   converged, fragmented) and candidates that fall back into the initial state are counted
   with their reason and dropped — they never stop the shard,
4. merges identical final states (state-identity test), so each distinct transition is
   validated once and knows who found it: ``md``, ``model``, ``both`` (MD and the model) or
   ``model_free`` (only the model-free candidates); ``hint_kinds`` lists every kind,
5. validates each distinct transition: both ends must be minima (no overlap, max force ≤
   ``end_fmax``), then a climbing-image NEB split at intermediate minima
   (:mod:`hopformer.physics.neb`), then — for one converged elementary step — the
   Vineyard prefactor from finite-difference Hessians at the minimum and the climbing image
   (:mod:`hopformer.physics.htst`).

States from the other splits enter only through their MD transitions seen at least
``md_min_count`` times (no model candidates: the model trained on them); they give the
MD-vs-hTST rate comparison its statistics.

A row's ``neb_status``: ``ok`` (one converged elementary step with a first-order saddle:
barrier and prefactor set), ``split`` (intermediate minima: not elementary), ``unconverged``,
``no_saddle`` (no interior maximum the band resolves), ``not_first_order`` (the climbing
image's Hessian has other than one imaginary mode), ``rejected`` (an end is not a minimum).
Only ``ok`` rows carry a barrier and a rate; the others say why in ``neb_detail``.
"""

from __future__ import annotations

import functools
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms
from ase.io import write

from hopformer.physics.io import atomic_path
from hopformer.physics.relax import Relaxer
from hopformer.physics.states import MOVED, align, hyperdistance, max_displacement, state_key
from hopformer.streams import EXPLORE_KICK, SAMPLE, SURFACE, VALIDATE, rng
from hopformer.transformer.evaluation import hint_free_candidates, model_candidates
from hopformer.transformer.examples import Example, top_k_atoms
from hopformer.transformer.exploration import COUNTERPART, model_free_candidates
from hopformer.transformer.network import TransitionModel
from hopformer.validation.pair import ValidationConfig, spectrum, validate_pair

__all__ = ["ValidationConfig", "validate_pair", "validate_state", "run_shard", "write_path"]

#: Candidate kinds made without the model (their candidates are not ``model_candidates``).
MODEL_FREE = frozenset(COUNTERPART.values())
#: ``found_by`` of a transition from the sources that found it; ``model_free`` otherwise.
FOUND_BY = (("both", {"md", "model"}), ("model", {"model"}), ("md", {"md"}))


def assign_shards(states: Sequence[int], shards: int) -> list[list[int]]:
    """States (sorted) dealt round-robin to ``shards`` shards."""
    if shards < 1:
        raise ValueError(f"validation.shards = {shards}: expected ≥ 1")
    ordered = sorted(set(states))
    return [ordered[s::shards] for s in range(shards)]


@dataclass
class Found:
    """One distinct final state out of an initial state, in ``initial``'s frame."""

    initial: np.ndarray
    final: np.ndarray
    final_energy: float
    md_final_state: int = -1
    md_count: int = 0
    sources: set[str] = field(default_factory=set)
    kinds: set[str] = field(default_factory=set)
    candidates: int = 0


def validate_state(
    state: int,
    md: Sequence[tuple[Example, int]],
    relaxer: Relaxer,
    config: ValidationConfig,
    seed: int,
    model: TransitionModel | None = None,
    extra: Sequence[tuple[np.ndarray, str]] = (),
    log: Callable[[str], None] = lambda m: None,
) -> tuple[list[dict], Counter]:
    """Rows (one per distinct transition out of ``state``) and candidate counts.

    ``md`` holds the MD transitions out of ``state`` with their MD counts (the first gives
    the frame of the unhinted candidates); ``model`` None validates the MD transitions only.
    ``extra`` adds hand-made candidates (positions in the first transition's frame, kind).
    """
    counts: Counter = Counter()
    ex0 = md[0][0]
    numbers = ex0.numbers
    found = [
        Found(ex.initial, ex.final, relaxer.energy(ex.final, numbers), ex.final_state, n, {"md"})
        for ex, n in md
    ]
    candidates: list[tuple[np.ndarray, np.ndarray, str]] = [
        (ex0.initial, x, kind) for x, kind in extra
    ]
    if model is not None:
        candidates += _model_candidates(model, state, [ex for ex, _ in md], config, seed)
    for initial, cand, kind in candidates:
        counts[f"{kind}_candidates"] += 1
        res = relaxer.relax(cand, numbers)
        if not res.ok:
            counts[f"rejected_{res.status}"] += 1
            continue
        if relaxer.same(initial, res.positions, numbers):
            counts["back_to_initial"] += 1
            continue
        counts["new_minimum"] += 1
        hit = next((f for f in found if relaxer.same(f.final, res.positions, numbers)), None)
        if hit is None:
            hit = Found(initial, align(initial, res.positions), res.energy)
            found.append(hit)
        free = kind in MODEL_FREE
        hit.sources.add("model_free" if free else "model")
        hit.kinds.add(kind)
        hit.candidates += 0 if free else 1
    e_initial = relaxer.energy(ex0.initial, numbers)
    # The minimum's spectrum, computed once per state and only if some saddle needs it.
    freq_initial = functools.cache(lambda: spectrum(relaxer, numbers, ex0.initial, config))
    rows = []
    novel = 0
    for f in found:
        if f.md_final_state >= 0:
            tid = f"{state}-{f.md_final_state}"
        else:
            tid, novel = f"{state}-n{novel}", novel + 1
        start = time.perf_counter()
        row = _transition_row(tid, state, f, numbers, e_initial)
        row |= validate_pair(relaxer, numbers, f.initial, f.final, config, freq_initial)
        rows.append(row)
        barrier = "" if row["barrier"] is None else f" Ea {row['barrier']:.3f} eV"
        log(
            f"state {state}: {tid} found by {row['found_by']}: {row['neb_status']}{barrier}"
            f" ({row['neb_steps']} NEB steps, {time.perf_counter() - start:.1f} s)"
        )
    return rows, counts


def _model_candidates(
    model: TransitionModel, state: int, md: Sequence[Example], config: ValidationConfig, seed: int
) -> list[tuple[np.ndarray, np.ndarray, str]]:
    out = []
    for ex in md:  # evaluation hints: the k atoms that move most in each MD transition
        for k in config.hint_sizes:
            if k > ex.natoms // 2:
                continue
            atoms = top_k_atoms(ex, k)
            cand = model_candidates(model, ex, atoms, ex.final[atoms], mode=True)[0]
            out.append((ex.initial, cand, f"hint{k}"))
    ex0 = md[0]
    draw_seed = int(rng(seed, VALIDATE, SAMPLE, state).integers(2**31))
    hints: list = []
    free, _ = hint_free_candidates(
        model,
        ex0,
        config.samples,
        config.surface_hints,
        draw_seed,
        rng(seed, VALIDATE, SURFACE, state),
        hints,
    )
    # The model-free counterparts come last, so the model's candidates and the numbering of
    # its novel transitions are what they were without them.
    kicks = rng(seed, VALIDATE, EXPLORE_KICK, state)
    free += model_free_candidates(ex0, hints, config.samples, kicks)
    out += [(ex0.initial, cand, kind) for cand, kind in free]
    return out


def _transition_row(tid: str, state: int, f: Found, numbers: np.ndarray, e_initial: float) -> dict:
    disp = np.linalg.norm(f.final - f.initial, axis=1)
    found_by = next((n for n, by in FOUND_BY if by <= f.sources), "model_free")
    return {
        "transition_id": tid,
        "initial_state": state,
        "final_state": f.md_final_state,
        "initial_key": state_key(e_initial, numbers),
        "final_key": state_key(f.final_energy, numbers),
        "initial_energy": e_initial,
        "final_energy": f.final_energy,
        "delta_energy": f.final_energy - e_initial,
        "max_displacement": max_displacement(f.initial, f.final),
        "hyperdistance": hyperdistance(f.initial, f.final),
        "atoms_moved": int((disp > MOVED).sum()),
        "found_by": found_by,
        "novel": f.md_final_state < 0,
        "md_count": f.md_count,
        "model_candidates": f.candidates,
        "hint_kinds": ",".join(sorted(f.kinds)),
        "numbers": numbers,
        "initial_positions": f.initial,
        "final_positions": f.final,
    }


def shard_groups(
    examples: Sequence[tuple[Example, int, bool]],
) -> dict[int, tuple[list[tuple[Example, int]], bool]]:
    """(example, MD count, held out) rows grouped by initial state; a state is held out when
    its transitions come from the test split."""
    groups: dict[int, tuple[list[tuple[Example, int]], bool]] = {}
    for ex, count, held in examples:
        group, was_held = groups.get(ex.initial_state, ([], held))
        group.append((ex, count))
        groups[ex.initial_state] = (group, was_held or held)
    return groups


def run_shard(
    groups: dict[int, tuple[list[tuple[Example, int]], bool]],
    relaxer: Relaxer,
    config: ValidationConfig,
    seed: int,
    model: TransitionModel | None,
    log: Callable[[str], None] = lambda m: None,
) -> tuple[list[dict], dict]:
    """Every state of one shard: rows and a summary of counts."""
    rows: list[dict] = []
    counts: Counter = Counter()
    for state in sorted(groups):
        md, held = groups[state]
        r, c = validate_state(state, md, relaxer, config, seed, model if held else None, log=log)
        for row in r:
            row["held_out"] = held
        rows += r
        counts += c
        counts["held_out_states" if held else "md_only_states"] += 1
    counts.update(f"neb_{r['neb_status']}" for r in rows)
    counts.update(f"found_by_{r['found_by']}" for r in rows)
    return rows, dict(sorted(counts.items()))


def write_path(row: dict, path: str | os.PathLike) -> None:
    """The band of one validated transition as a multi-frame extxyz (OVITO, ase gui)."""
    numbers = np.asarray(row["numbers"])
    n = len(numbers)
    images = np.reshape(row["path_positions"], (-1, n, 3))
    frames = []
    for i, (x, e) in enumerate(zip(images, row["path_energies"], strict=True)):
        atoms = Atoms(numbers=numbers, positions=x - x.mean(0))
        atoms.info.update(
            image=i,
            relative_energy=float(e),
            transition=row["transition_id"],
            neb_status=row["neb_status"],
        )
        frames.append(atoms)
    with atomic_path(path) as tmp:
        write(tmp, frames, format="extxyz")
