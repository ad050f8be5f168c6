"""The kinetics round aggregator: process tables, completeness, KMC, next targets
(docs/design.md §9).

A round's aggregator takes the previous round's tables (states, processes, trajectory) and the
round's search shards (events, stats), and

1. adds the hits of repeats to their processes, and merges the new products of all jobs into
   each state's process table (one product found by several jobs or finders is one process);
2. rates the valid processes — harmonic TST, k = ν e^{−Eₐ/kT} with the Vineyard prefactor ν
   (or a fixed ``prefactor_thz``); a prefactor outside 10⁹–10²¹ s⁻¹ marks the process invalid,
   as eOn does — and registers their products as states (identity test against every known
   state);
3. applies the completeness rule (:mod:`hopformer.kinetics.completeness`) per state;
4. runs the KMC (:mod:`hopformer.kinetics.kmc`) from where the last round stopped for at most
   ``kmc_steps`` steps, while the current state is searched enough;
5. places the next round's ``searches`` jobs by virtual walks from the current state.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hopformer.kinetics.completeness import state_confidence
from hopformer.kinetics.kmc import Catalogue, Process, run_kmc, search_targets
from hopformer.physics.htst import K_B, htst_rate
from hopformer.physics.states import SAME_STATE_TOL, same_minimum
from hopformer.streams import KINETICS_KMC, KINETICS_WALK, rng

PREFACTOR_BOUNDS_THZ = (1e-3, 1e9)  # 10⁹–10²¹ s⁻¹


@dataclass(frozen=True)
class KineticsConfig:
    temperature: float
    searches: int = 2
    confidence: float = 0.99
    window_kT: float = 20.0
    flicker_kT: float = 3.0
    kmc_steps: int = 1000
    prefactor_thz: float | None = None
    state_tol: float = SAME_STATE_TOL

    def __post_init__(self):
        if not self.temperature > 0:
            raise ValueError(f"kinetics.temperature = {self.temperature}: expected > 0 K")
        if not 0 < self.confidence < 1:
            raise ValueError(f"kinetics.confidence = {self.confidence}: expected in (0, 1)")

    @property
    def kT(self) -> float:
        return K_B * self.temperature


def start_tables(numbers: np.ndarray, positions: np.ndarray, energy: float, searches: int):
    """The tables before round 0: the starting state, nothing found, every job on it."""
    state = _new_state(0, numbers, positions, energy, first_round=-1)
    return {
        "states": [state],
        "processes": [],
        "trajectory": [],
        "targets": [{"job": j, "state": 0} for j in range(searches)],
    }


def _new_state(sid, numbers, positions, energy, first_round) -> dict:
    return {
        "state": sid,
        "energy": float(energy),
        "numbers": np.asarray(numbers),
        "positions": np.asarray(positions, dtype=float).reshape(-1, 3),
        "first_round": first_round,
        "searches": 0,
        "processes": 0,
        "window_processes": 0,
        "window_hits": 0,
        "confidence": 0.0,
        "done": False,
        "kmc_visits": 0,
        "kmc_residence_ps": 0.0,
    }


def aggregate(
    previous: dict,
    events: Sequence[dict],
    stats: Sequence[dict],
    round_: int,
    config: KineticsConfig,
    seed: int,
) -> tuple[dict, dict]:
    """The round's tables (states, processes, trajectory, targets) and its summary."""
    states = [dict(s) for s in previous["states"]]
    processes = [dict(p) for p in previous["processes"]]
    for s in states:
        s["positions"] = np.reshape(np.asarray(s["positions"]), (-1, 3))
    for sid in {(st["job"], st["state"]) for st in stats}:
        states[sid[1]]["searches"] += 1
    by_state: dict[int, list[dict]] = {}
    for p in processes:
        by_state.setdefault(p["state"], []).append(p)
    for ev in sorted(events, key=lambda e: (e["job"], e["finder"], e["kind"], e["process"])):
        table = by_state.setdefault(ev["state"], [])
        if ev["kind"] == "repeat":
            _credit(table[ev["process"]], ev)
            continue
        final = np.reshape(np.asarray(ev["final_positions"]), (-1, 3))
        twin = next((p for p in table if _same(p, final, ev, config)), None)
        if twin is not None:
            _credit(twin, ev)
            continue
        row = _process_row(ev, len(table), round_, config, final)
        if row["valid"]:
            row["product"] = _register(states, row, final, ev, round_, config)
        table.append(row)
        processes.append(row)
    cat = Catalogue()
    for s in states:
        _complete(s, by_state.get(s["state"], []), config)
        if s["done"]:
            cat.done.add(s["state"])
        cat.processes[s["state"]] = [
            Process(
                p["process"], p["product"], p["rate_per_ps"], p["barrier"], p["reverse_barrier"]
            )
            for p in by_state.get(s["state"], [])
            if p["valid"]
        ]
    trajectory = [dict(t) for t in previous["trajectory"]]
    current = trajectory[-1]["product"] if trajectory else 0
    clock = trajectory[-1]["time_ps"] if trajectory else 0.0
    steps = run_kmc(
        cat,
        current,
        rng(seed, KINETICS_KMC, round_),
        config.kmc_steps,
        config.flicker_kT * config.kT,
    )
    for step in steps:
        clock += step.dt
        states[step.state]["kmc_visits"] += 1
        states[step.state]["kmc_residence_ps"] += step.dt
        trajectory.append(
            {
                "round": round_,
                "step": len(trajectory),
                "time_ps": clock,
                "state": step.state,
                "exit_state": step.exit_state,
                "process": step.process,
                "product": step.product,
                "dt_ps": step.dt,
                "basin": step.basin,
                "energy": states[step.product]["energy"],
            }
        )
        current = step.product
    walks = [rng(seed, KINETICS_WALK, round_, j) for j in range(config.searches)]
    targets = [{"job": j, "state": s} for j, s in enumerate(search_targets(cat, current, walks))]
    tables = {
        "states": states,
        "processes": processes,
        "trajectory": trajectory,
        "targets": targets,
    }
    return tables, _summary(round_, tables, steps, stats, current, clock)


def _credit(process: dict, ev: dict) -> None:
    process["hits"] += ev["hits"]
    finders = set(filter(None, process["finders"].split(","))) | set(ev["finders"].split(","))
    process["finders"] = ",".join(sorted(finders))


def _same(process: dict, final: np.ndarray, ev: dict, config: KineticsConfig) -> bool:
    other = np.reshape(np.asarray(process["final_positions"]), (-1, 3))
    return same_minimum(
        other, process["final_energy"], final, ev["final_energy"], ev["numbers"], config.state_tol
    )


def _process_row(ev: dict, pid: int, round_: int, config: KineticsConfig, final) -> dict:
    row = {k: ev[k] for k in ev if k not in ("round", "job", "kind", "finder", "finders")}
    row |= {
        "process": pid,
        "first_finder": ev["finder"],
        "finders": ev["finders"],
        "first_round": round_,
        "final_positions": final,
        "product": -1,
        "rate_per_ps": None,
    }
    valid = ev["neb_status"] == "ok"
    if valid:
        nu = config.prefactor_thz if config.prefactor_thz is not None else ev["prefactor_thz"]
        lo, hi = PREFACTOR_BOUNDS_THZ
        if not lo <= nu <= hi:
            valid = False
            row["neb_detail"] = f"prefactor {nu:.3g} THz outside {lo:g}–{hi:g} THz"
        else:
            row["rate_per_ps"] = htst_rate(nu, ev["barrier"], config.temperature)
    row["valid"] = valid
    return row


def _register(states: list[dict], row: dict, final, ev: dict, round_: int, config) -> int:
    numbers = np.asarray(ev["numbers"])
    for s in states:
        e = row["final_energy"]
        if same_minimum(s["positions"], s["energy"], final, e, numbers, config.state_tol):
            return s["state"]
    sid = len(states)
    states.append(_new_state(sid, numbers, final, row["final_energy"], round_))
    return sid


def _complete(state: dict, table: list[dict], config: KineticsConfig) -> None:
    valid = [p for p in table if p["valid"]]
    conf, window, hits = state_confidence(
        [p["barrier"] for p in valid], [p["hits"] for p in valid], config.kT, config.window_kT
    )
    state |= {
        "processes": len(valid),
        "window_processes": window,
        "window_hits": hits,
        "confidence": conf,
        "done": conf >= config.confidence,
    }


def finder_figures(stats, key=lambda s: s["finder"]) -> dict:
    """Distinct validated events in the window, force calls, wall time and events per 1000
    force calls of the search stats rows, summed per ``key`` (default: per finder)."""
    out: dict = {}
    for st in stats:
        f = out.setdefault(key(st), {"events_in_window": 0, "force_calls": 0, "wall_s": 0.0})
        f["events_in_window"] += st["new_valid_in_window"]
        f["force_calls"] += st["force_calls"]
        f["wall_s"] += st["wall_s"]
    for f in out.values():
        calls = f["force_calls"]
        f["events_per_1000_calls"] = 1000 * f["events_in_window"] / calls if calls else 0.0
    return out


def _summary(round_, tables, steps, stats, current, clock) -> dict:
    states = tables["states"]
    return {
        "round": round_,
        "states": len(states),
        "done_states": sum(s["done"] for s in states),
        "valid_processes": sum(p["valid"] for p in tables["processes"]),
        "processes": len(tables["processes"]),
        "kmc_steps_this_round": len(steps),
        "kmc_steps": len(tables["trajectory"]),
        "superbasin_steps_this_round": sum(s.basin > 1 for s in steps),
        "simulated_ps": clock,
        "simulated_s": clock * 1e-12 if math.isfinite(clock) else None,
        "current_state": current,
        "targets": [t["state"] for t in tables["targets"]],
        "finders": finder_figures(stats),
    }
