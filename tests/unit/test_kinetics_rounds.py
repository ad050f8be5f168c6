"""The round aggregator on synthetic search results: merging, registration, completeness,
KMC and targets (no physics engine needed: states are compared geometrically)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hopformer.kinetics.rounds import KineticsConfig, aggregate, start_tables
from hopformer.physics.htst import K_B

N = 13
NUMBERS = np.full(N, 78)


def _geometry(seed: int) -> np.ndarray:
    """Distinct, well-separated configurations (no two alike by the identity test)."""
    g = np.random.default_rng(seed)
    return np.cumsum(g.normal(scale=1.0, size=(N, 3)), axis=0) * 2.5


X0 = _geometry(0)
A, B, C = _geometry(1), _geometry(2), _geometry(3)


def _event(
    job, state, finder, final, barrier=0.3, status="ok", kind="new", process=-1, energy=-1.0
):
    ok = status == "ok"
    return {
        "round": 0,
        "job": job,
        "state": state,
        "finder": finder,
        "finders": finder,
        "kind": kind,
        "process": process,
        "hits": 1,
        "neb_status": status,
        "neb_detail": "",
        "saddle_energy": barrier if ok else None,
        "barrier": barrier if ok else None,
        "reverse_barrier": barrier + 0.1 if ok else None,
        "prefactor_thz": 2.0 if ok else None,
        "final_energy": energy,
        "delta_energy": energy,
        "max_displacement": 1.0,
        "atoms_moved": 1,
        "validation_calls": 100,
        "numbers": NUMBERS,
        "final_positions": final,
    }


def _stats(job, state, finder="displacement"):
    return {
        "round": 0,
        "job": job,
        "state": state,
        "finder": finder,
        "force_calls": 10,
        "new_valid_in_window": 1,
        "wall_s": 0.1,
    }


# One process hit twice has coverage 0.80; two processes hit 3 + 2 times 0.89.
CONFIG = KineticsConfig(temperature=300.0, searches=2, confidence=0.85, window_kT=20.0)


def test_products_found_by_two_jobs_merge_into_one_process_and_become_states():
    start = start_tables(NUMBERS, X0, 0.0, 2)
    events = [
        _event(0, 0, "displacement", A),
        _event(1, 0, "transformer", A + 1e-3),  # the same minimum, found again
        _event(1, 0, "dimer", B, status="unconverged", energy=-2.0),
    ]
    tables, summary = aggregate(start, events, [_stats(0, 0), _stats(1, 0)], 0, CONFIG, seed=1)
    procs = tables["processes"]
    assert [(p["process"], p["valid"], p["hits"]) for p in procs] == [(0, True, 2), (1, False, 1)]
    assert procs[0]["finders"] == "displacement,transformer"
    assert procs[0]["product"] == 1 and procs[1]["product"] == -1
    assert procs[0]["rate_per_ps"] == pytest.approx(2.0 * math.exp(-0.3 / (K_B * 300.0)))
    assert [s["state"] for s in tables["states"]] == [0, 1]
    assert tables["states"][0]["searches"] == 2
    # One process found twice: nothing says the catalogue is complete yet.
    assert not tables["states"][0]["done"] and summary["kmc_steps"] == 0
    assert [t["state"] for t in tables["targets"]] == [0, 0]


def test_repeats_complete_a_state_and_the_kmc_steps_on_to_the_next_target():
    start = start_tables(NUMBERS, X0, 0.0, 2)
    first, _ = aggregate(start, [_event(0, 0, "displacement", A)], [_stats(0, 0)], 0, CONFIG, 1)
    repeats = (
        [_event(j, 0, "displacement", A, kind="repeat", process=0) for j in range(2)]
        + [_event(0, 0, "dimer", C, barrier=0.35, energy=-0.5)]
        + [_event(1, 0, "dimer", C, kind="repeat", process=1)]
    )
    second, summary = aggregate(first, repeats, [_stats(0, 0), _stats(1, 0)], 1, CONFIG, 1)
    s0 = second["states"][0]
    # hits: A 3 (1 + 2 repeats), C 2 (new + 1 repeat): u = 2, n = 5.
    assert (s0["window_processes"], s0["window_hits"]) == (2, 5) and s0["done"]
    # The KMC leaves state 0 (searched enough) and stops in the product it reached, which
    # has never been searched: every next search goes there.
    steps = second["trajectory"]
    assert len(steps) == 1 and steps[0]["state"] == 0 and steps[0]["product"] in (1, 2)
    assert [t["state"] for t in second["targets"]] == [steps[0]["product"]] * 2
    assert summary["simulated_ps"] == pytest.approx(steps[0]["time_ps"]) and steps[0]["time_ps"] > 0


def test_a_prefactor_outside_the_htst_bounds_makes_a_process_invalid():
    bad = _event(0, 0, "dimer", A) | {"prefactor_thz": 1e-6}
    tables, _ = aggregate(start_tables(NUMBERS, X0, 0.0, 1), [bad], [_stats(0, 0)], 0, CONFIG, 1)
    (p,) = tables["processes"]
    assert not p["valid"] and "prefactor" in p["neb_detail"] and len(tables["states"]) == 1


def test_the_same_inputs_give_the_same_trajectory():
    start = start_tables(NUMBERS, X0, 0.0, 2)
    events = [
        _event(0, 0, "displacement", A),
        _event(0, 0, "displacement", A, kind="repeat", process=0),
    ]
    cfg = KineticsConfig(temperature=300.0, searches=2, confidence=0.3)
    first, _ = aggregate(start, events[:1], [_stats(0, 0)], 0, cfg, 5)
    runs = [aggregate(first, events[1:], [_stats(0, 0)], 1, cfg, 5)[0] for _ in range(2)]
    assert runs[0]["trajectory"] and runs[0]["trajectory"] == runs[1]["trajectory"]
