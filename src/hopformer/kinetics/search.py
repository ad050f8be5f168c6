"""One event-search job: the finders' proposals from one state, relaxed, deduplicated against
the state's process table and validated (docs/design.md §9).

For each configured finder in turn (:mod:`hopformer.kinetics.finders`), from one seeded
stream per finder — the same stream for every finder, so they start from the same epicentres —
and deduplicating against the process table and its own finds only (so the finders' figures
do not depend on their order):

1. the finder proposes ``proposals`` structures;
2. each is relaxed with the splicing quench; rejected quenches and ones that fall back into the
   state are counted and dropped;
3. a product equal (state-identity test) to one already in the state's process table, or to one
   found earlier in this job, is a *repeat* — one more hit for the completeness rule, no NEB;
4. every new product is validated with :func:`hopformer.validation.pair.validate_pair`: a
   climbing-image NEB and the Vineyard prefactor. When the path splits at intermediate
   minima, its first segment is the event (the first intermediate minimum its product, which
   may itself be a repeat), and the product itself is kept as a ``split`` row so that a
   proposal reaching it again is a repeat, not a second NEB.

The force calls of each finder (its proposals, its quenches, the validations of its new
products) are the difference of the process-wide counter around its turn; ``model_s`` is the
time spent inside the network.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from hopformer.kinetics.finders import FinderConfig, proposer
from hopformer.physics.engine import force_calls
from hopformer.physics.relax import Relaxer
from hopformer.physics.states import MOVED, align, max_displacement, same_minimum
from hopformer.streams import KINETICS_SEARCH, rng
from hopformer.transformer.network import TransitionModel
from hopformer.validation.pair import ValidationConfig, spectrum, validate_pair


@dataclass
class Known:
    """A product already in the process table (or found in this job): its process id
    (-1 while new), positions and energy, and the hits this job adds to it."""

    process: int
    positions: np.ndarray
    energy: float
    hits: int = 0
    finders: list[str] = field(default_factory=list)
    row: dict = field(default_factory=dict)

    def hit(self, finder: str) -> None:
        self.hits += 1
        if finder not in self.finders:
            self.finders.append(finder)


@dataclass(frozen=True)
class SearchJob:
    round: int
    job: int
    state: int
    numbers: np.ndarray
    positions: np.ndarray
    energy: float
    seed: int
    model_generation: int = 0


def search_state(
    job: SearchJob,
    known: Sequence[Known],
    finders: Sequence[str],
    relaxer: Relaxer,
    finder_config: FinderConfig,
    validation: ValidationConfig,
    model: TransitionModel | None = None,
    in_window: Callable[[float], bool] = lambda barrier: True,
    log: Callable[[str], None] = lambda m: None,
) -> tuple[list[dict], list[dict]]:
    """(event rows, one stats row per finder) of one search job (module doc)."""
    numbers, x = job.numbers, job.positions
    freq_initial = functools.cache(lambda: spectrum(relaxer, numbers, x, validation))
    stats, events = [], []
    for finder in finders:
        # Each finder deduplicates against the process table and its own finds only, so that
        # its figures do not depend on which finder ran first.
        table = [Known(k.process, k.positions, k.energy) for k in known]
        calls0, t0 = force_calls(), time.perf_counter()
        propose = proposer(finder, relaxer, model, finder_config)
        generator = rng(job.seed, KINETICS_SEARCH, job.round, job.job)
        m0 = time.perf_counter()
        proposals = propose(numbers, x, generator)
        model_s = time.perf_counter() - m0 if finder == "transformer" else 0.0
        s = dict.fromkeys(
            ["no_proposal", "rejected", "back_to_initial", "repeats", "new_products", "new_valid"],
            0,
        )
        s["new_valid_in_window"], s["validation_calls"] = 0, 0
        for cand in proposals:
            if cand is None:
                s["no_proposal"] += 1
                continue
            res = relaxer.relax(cand, numbers)
            if not res.ok:
                s["rejected"] += 1
                continue
            if relaxer.same(x, res.positions, numbers):
                s["back_to_initial"] += 1
                continue
            hit = _match(table, res.positions, res.energy, relaxer, numbers)
            if hit is not None:
                hit.hit(finder)
                s["repeats"] += 1
                continue
            s["new_products"] += 1
            for found in _validate(job, finder, res.positions, relaxer, validation, freq_initial):
                s["validation_calls"] += found.row.get("validation_calls", 0)
                again = _match(table, found.positions, found.energy, relaxer, numbers)
                if again is not None:  # a split path's first step led to a known product
                    again.hit(finder)
                    continue
                table.append(found)
                status, barrier = found.row["neb_status"], found.row["barrier"]
                if status == "ok":
                    s["new_valid"] += 1
                    s["new_valid_in_window"] += bool(in_window(barrier))
                log(
                    f"state {job.state}: {finder} found a product: {status}"
                    + ("" if barrier is None else f", Ea {barrier:.3f} eV")
                )
        stats.append(
            {
                "round": job.round,
                "job": job.job,
                "state": job.state,
                "finder": finder,
                "model_generation": job.model_generation,
                "proposals": len(proposals),
                **s,
                "force_calls": force_calls() - calls0,
                "wall_s": time.perf_counter() - t0,
                "model_s": model_s,
            }
        )
        events += _event_rows(job, table)
    return events, stats


def _match(table, positions, energy, relaxer, numbers) -> Known | None:
    for k in table:
        if same_minimum(k.positions, k.energy, positions, energy, numbers, relaxer.tol):
            return k
    return None


def _validate(job, finder, product, relaxer, validation, freq_initial) -> list[Known]:
    """The validated product; for a split path first the product itself (kept as ``split``
    so that finding it again costs no NEB) and then its first step, the event."""
    calls0 = force_calls()
    x = job.positions
    product = align(x, product)
    out = validate_pair(relaxer, job.numbers, x, product, validation, freq_initial, first_step=True)
    found = []
    if "product_positions" in out:
        split = dict.fromkeys(["saddle_energy", "barrier", "reverse_barrier", "prefactor_thz"])
        detail = out["split_detail"]
        found.append(
            _known(
                job, finder, product, relaxer, split | {"neb_status": "split", "neb_detail": detail}
            )
        )
        product = align(x, out["product_positions"])
    keys = [
        "neb_status",
        "neb_detail",
        "saddle_energy",
        "barrier",
        "reverse_barrier",
        "prefactor_thz",
    ]
    found.append(_known(job, finder, product, relaxer, {k: out[k] for k in keys}))
    found[-1].row["validation_calls"] = force_calls() - calls0  # the whole NEB, on the event
    return found


def _known(job, finder, product, relaxer, row) -> Known:
    energy = relaxer.energy(product, job.numbers)
    disp = np.linalg.norm(product - job.positions, axis=1)
    row = row | {
        "final_energy": energy,
        "delta_energy": energy - job.energy,
        "max_displacement": max_displacement(job.positions, product),
        "atoms_moved": int((disp > MOVED).sum()),
        "validation_calls": 0,
    }
    return Known(-1, product, energy, hits=1, finders=[finder], row=row)


def _event_rows(job: SearchJob, table: list[Known]) -> list[dict]:
    rows = []
    for k in table:
        if k.process >= 0 and k.hits == 0:
            continue
        base = {
            "round": job.round,
            "job": job.job,
            "state": job.state,
            "process": k.process,
            "hits": k.hits,
            "finder": k.finders[0],
            "finders": ",".join(sorted(k.finders)),
            "numbers": job.numbers,
            "final_positions": k.positions,
        }
        if k.process >= 0:
            rows.append(
                base
                | {"kind": "repeat", "neb_status": "", "neb_detail": ""}
                | dict.fromkeys(["saddle_energy", "barrier", "reverse_barrier"])
                | {"prefactor_thz": None, "final_energy": k.energy, "delta_energy": 0.0}
                | {"max_displacement": 0.0, "atoms_moved": 0, "validation_calls": 0}
            )
        else:
            rows.append(base | {"kind": "new"} | k.row)
    return rows
