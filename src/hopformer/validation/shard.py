"""Predict + validate one shard of initial states (rule ``validate_shard``, docs/design.md §7).

For every **held-out** initial state (the test split: the model never saw it) the shard

1. takes the MD transitions out of it (already quenched minima),
2. generates model candidates: for each MD transition and each k of ``hint_sizes`` the mode
   candidate with the k most-displaced atoms as hint (evaluation hints), plus ``samples``
   unhinted draws and ``surface_hints`` one-surface-atom hints (exploration hints, made
   without any final state),
3. relaxes every candidate with the splicing quench; rejected candidates (overlap, not
   converged, fragmented) and candidates that fall back into the initial state are counted
   with their reason and dropped — they never stop the shard,
4. merges identical final states (state-identity test), so each distinct transition is
   validated once and knows who found it: ``md``, ``model`` or ``both``,
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
from ase.data import atomic_masses
from ase.io import write

from hopformer.physics.engine import fmax_of
from hopformer.physics.htst import frequencies, hessian, vineyard
from hopformer.physics.io import atomic_path
from hopformer.physics.neb import Path, minimum_energy_path
from hopformer.physics.relax import Relaxer, start_problem
from hopformer.physics.states import MOVED, align, hyperdistance, max_displacement, state_key
from hopformer.streams import SAMPLE, SURFACE, VALIDATE, rng
from hopformer.transformer.evaluation import hint_free_candidates, model_candidates
from hopformer.transformer.examples import Example, top_k_atoms
from hopformer.transformer.network import TransitionModel

# Stream of the exploration draws under the campaign seed, distinct from evaluation's.


@dataclass(frozen=True)
class ValidationConfig:
    hint_sizes: tuple[int, ...] = (1, 2, 4)
    samples: int = 4
    surface_hints: int = 4
    images: int = 9
    neb_fmax: float = 0.02
    neb_steps: int = 1000
    hessian_delta: float = 5e-3
    end_fmax: float = 0.01

    def __post_init__(self):
        if not 7 <= self.images <= 11:
            raise ValueError(
                f"validation.images = {self.images}: expected 7..11 (docs/design.md §7)"
            )
        if not self.neb_fmax > 0 or not self.hessian_delta > 0 or not self.end_fmax > 0:
            raise ValueError("validation.neb_fmax, hessian_delta and end_fmax must be positive")
        if min(self.hint_sizes, default=1) < 1:
            raise ValueError(f"validation.hint_sizes = {list(self.hint_sizes)}: expected k ≥ 1")


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
        hit.sources.add("model")
        hit.kinds.add(kind)
        hit.candidates += 1
    e_initial = relaxer.energy(ex0.initial, numbers)
    # The minimum's spectrum, computed once per state and only if some saddle needs it.
    freq_initial = functools.cache(lambda: _spectrum(relaxer, numbers, ex0.initial, config))
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
    free, _ = hint_free_candidates(
        model,
        ex0,
        config.samples,
        config.surface_hints,
        draw_seed,
        rng(seed, VALIDATE, SURFACE, state),
    )
    out += [(ex0.initial, cand, kind) for cand, kind in free]
    return out


def _transition_row(tid: str, state: int, f: Found, numbers: np.ndarray, e_initial: float) -> dict:
    disp = np.linalg.norm(f.final - f.initial, axis=1)
    found_by = "both" if f.sources == {"md", "model"} else next(iter(f.sources))
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


def _spectrum(
    relaxer: Relaxer, numbers: np.ndarray, x: np.ndarray, config: ValidationConfig
) -> np.ndarray:
    engine = relaxer.engine(numbers, x)
    return frequencies(hessian(engine, x, config.hessian_delta), atomic_masses[numbers], x)


def end_problem(relaxer: Relaxer, numbers: np.ndarray, x: np.ndarray, end_fmax: float) -> str:
    """Why ``x`` cannot be an end of a band ('' when it can: no overlap, a minimum)."""
    problem = start_problem(x, numbers=numbers)
    if problem:
        return problem
    engine = relaxer.engine(numbers, x)
    engine.set_positions(x)
    f = fmax_of(engine.forces())
    if f > end_fmax:
        return f"not a minimum (max force {f:.3g} eV/Å > {end_fmax:g})"
    return ""


def validate_pair(
    relaxer: Relaxer,
    numbers: np.ndarray,
    initial: np.ndarray,
    final: np.ndarray,
    config: ValidationConfig,
    freq_initial: Callable[[], np.ndarray] | None = None,
) -> dict:
    """NEB + hTST columns of one transition (see the module doc for ``neb_status``);
    ``freq_initial()`` gives the initial minimum's spectrum when a saddle needs it (default:
    computed here)."""
    out = {
        "neb_status": "rejected",
        "neb_detail": "",
        "neb_segments": 0,
        "neb_steps": 0,
        "saddle_energy": None,
        "barrier": None,
        "reverse_barrier": None,
        "prefactor_thz": None,
        "imaginary_modes": -1,
        "path_images": 0,
        "path_energies": [],
        "path_positions": [],
    }
    for name, x in (("initial", initial), ("final", final)):
        problem = end_problem(relaxer, numbers, x, config.end_fmax)
        if problem:
            out["neb_detail"] = f"{name} end: {problem}"
            return out

    def relax(x: np.ndarray) -> np.ndarray | None:
        res = relaxer.relax(x, numbers)
        return res.positions if res.ok else None

    path: Path = minimum_energy_path(
        relaxer.potential,
        numbers,
        initial,
        final,
        relax,
        lambda a, b: relaxer.same(a, b, numbers),
        images=config.images,
        fmax=config.neb_fmax,
        steps=config.neb_steps,
        vacuum=relaxer.vacuum,
    )
    energies = np.concatenate(
        [s.energies if i == 0 else s.energies[1:] for i, s in enumerate(path.segments)]
    )
    positions = np.concatenate(
        [s.positions if i == 0 else s.positions[1:] for i, s in enumerate(path.segments)]
    )
    out |= {
        "neb_segments": len(path.segments),
        "neb_steps": sum(s.steps for s in path.segments),
        "path_images": len(energies),
        "path_energies": energies - energies[0],
        "path_positions": positions,
    }
    if path.split:
        out["neb_status"] = "split"
        out["neb_detail"] = (
            f"{len(path.segments) - 1} intermediate minima; segment barriers "
            + ", ".join(f"{s.barrier:.3f} eV ({s.status})" for s in path.segments)
        )
        return out
    band = path.segments[0]
    if band.status != "ok":
        # An interior minimum that relaxed into an end, with no maximum above both ends, is a
        # band without a saddle too.
        out["neb_status"] = "unconverged" if band.status == "unconverged" else "no_saddle"
        out["neb_detail"] = (
            band.note
            or {
                "unconverged": f"band not converged to {band.fmax} eV/Å in {band.steps} steps",
                "no_saddle": "no interior maximum above both ends",
                "intermediate_minimum": "no interior maximum above both ends; an interior minimum"
                " relaxes into an end",
            }[band.status]
        )
        return out
    out["neb_status"] = "ok"
    saddle = band.positions[band.saddle]
    out |= {
        "saddle_energy": float(band.energies.max()),
        "barrier": band.barrier,
        "reverse_barrier": band.reverse_barrier,
    }
    spectrum = freq_initial() if freq_initial else _spectrum(relaxer, numbers, initial, config)
    v = vineyard(spectrum, _spectrum(relaxer, numbers, saddle, config))
    out["imaginary_modes"] = v.imaginary
    if v.prefactor is None:
        out["neb_status"], out["neb_detail"] = "not_first_order", v.reason
        out["barrier"] = out["reverse_barrier"] = out["saddle_energy"] = None
        return out
    out["prefactor_thz"] = v.prefactor
    return out


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
