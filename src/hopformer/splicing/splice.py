"""The round aggregator: identify states across workers, splice, schedule the next round.

Splicing rule (ParSplice, Perez et al. JCTC 12, 18 (2016)): a segment is appended to the
spliced trajectory only when its start state equals the trajectory's current end state; the
others stay banked, in (round, worker, segment) order, and are used as soon as the trajectory
reaches their start state. Every observed transition is kept as data, spliced or not.

Scheduling: the next round's workers are placed by virtual trajectories (ParSplice's
scheduler): starting from the spliced end state, walk a segment-level Markov chain estimated
from all segments so far (one pseudo-count of staying put, so an unexplored state looks
sticky), consume the segments already banked or promised to earlier workers along the walk,
and place the next worker where the walk first finds no segment. The first worker therefore
always starts at the spliced end state.

Several trajectories side by side (``splicing.trajectories``, docs/design.md §4): the workers
are split into equal consecutive blocks, one per trajectory, each started from its own
melt-quenched cluster. The states are shared (one registry, so a transition seen by two
trajectories is one distinct transition), and so is the Markov chain the scheduler walks; but
each trajectory splices and banks only its own workers' segments and has its own end state.
"""

from __future__ import annotations

import os
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase.io import read

from hopformer.data import schema
from hopformer.data.shards import check_together, read_table, to_table, write_table
from hopformer.physics.io import write_json_atomic
from hopformer.physics.states import SAME_STATE_TOL
from hopformer.splicing.registry import StateRegistry
from hopformer.streams import SCHEDULER, rng

ROUND_FILES = ("states", "segments", "edges", "frontier")
# The scheduler draws from (seed, round, streams.SCHEDULER); workers use (seed, round,
# worker) with worker ≤ 999, so the streams never coincide.


@dataclass(frozen=True)
class RoundInputs:
    """What a round's aggregation reads: the previous round's folder (None for round 0, which
    starts the trajectory at the reference cluster) and this round's worker shards in worker
    order, as (segments, transitions) paths; ``starts``, the start structures of trajectories
    1, 2, … when several are spliced side by side (trajectory 0 starts at ``cluster``)."""

    round: int
    shards: Sequence[tuple[Path, Path]]
    previous: Path | None
    cluster: Path
    starts: Sequence[Path] = ()


def round_paths(folder: str | os.PathLike) -> dict[str, Path]:
    folder = Path(folder)
    return {name: folder / f"{name}.parquet" for name in ROUND_FILES} | {
        "summary": folder / "summary.json"
    }


def splice_round(
    inp: RoundInputs,
    out_dir: str | os.PathLike,
    transitions_out: str | os.PathLike,
    next_workers: int,
    segments_per_worker: int,
    seed: int,
    tol: float = SAME_STATE_TOL,
    log: Callable[[str], None] = print,
    relabel: bool = True,
) -> dict:
    """Aggregate round ``inp.round`` and write its folder, its transitions file and a summary."""
    starts = [read(p) for p in (inp.cluster, *inp.starts)]
    numbers = starts[0].numbers
    for path, atoms in zip((inp.cluster, *inp.starts), starts, strict=True):
        if not np.array_equal(atoms.numbers, numbers):
            raise ValueError(f"{path}: its species differ from those of {inp.cluster}")
    if next_workers % len(starts):
        raise ValueError(
            f"{next_workers} workers cannot be split evenly among {len(starts)} trajectories"
        )
    # The starts are the first minima the campaign's registry sees (round 0 identifies them
    # before any segment, in trajectory order), so a fresh registry gives them their ids again.
    # Round 0 keeps that registry as the campaign's.
    first = StateRegistry(numbers, tol, relabel)
    origins = [first.identify(a.positions, a.get_potential_energy(), inp.round) for a in starts]
    if inp.previous is None:
        registry, segments, edges = first, [], {}
    else:
        prev = round_paths(inp.previous)
        states = read_table(prev["states"], schema.STATES)
        registry = StateRegistry.from_table(states, numbers, tol, relabel)
        segments = read_table(prev["segments"], schema.SEGMENTS).to_pylist()
        edges = {
            (e["initial_state"], e["final_state"]): e
            for e in read_table(prev["edges"], schema.EDGES).to_pylist()
        }
    n_states_before, n_segments_before = len(registry.rows), len(segments)

    transitions, self_matches = [], 0
    for seg_path, tr_path, seg_rows, tr_rows in _read_shards(inp):
        _check_numbers(seg_rows + tr_rows, numbers, seg_path)
        by_segment = defaultdict(list)
        for tr in tr_rows:
            by_segment[tr["segment"]].append(tr)
        for seg in seg_rows:
            start = registry.identify(seg["start_positions"], seg["start_energy"], inp.round)
            for tr in sorted(by_segment.pop(seg["segment"], []), key=lambda r: r["block"]):
                i = registry.identify(tr["initial_positions"], tr["initial_energy"], inp.round)
                j = registry.identify(tr["final_positions"], tr["final_energy"], inp.round)
                registry.rows[i]["residence_ps"] += tr["dwell_ps"]
                if i == j:  # both ends matched one known minimum (the test is not transitive)
                    self_matches += 1
                    continue
                edge = edges.setdefault(
                    (i, j),
                    {"initial_state": i, "final_state": j, "count": 0, "first_round": inp.round},
                )
                edge["count"] += 1
                transitions.append(tr | {"initial_state": i, "final_state": j})
            end = registry.identify(seg["end_positions"], seg["end_energy"], inp.round)
            registry.rows[end]["residence_ps"] += seg["end_dwell_ps"]
            segments.append(
                {
                    k: seg[k]
                    for k in (
                        "campaign",
                        "round",
                        "worker",
                        "segment",
                        "duration_ps",
                        "transitions",
                    )
                }
                | {
                    "start_state": start,
                    "end_state": end,
                    "spliced_order": -1,
                    "spliced_in_round": -1,
                }
            )
        if by_segment:
            raise ValueError(
                f"{tr_path}: transitions of segment(s) {sorted(by_segment)} that "
                f"{seg_path} does not list"
            )

    per = next_workers // len(origins)  # workers per trajectory, in consecutive blocks
    ends, frontier, trajectories = [], [], []
    for t, origin in enumerate(origins):
        mine = [s for s in segments if s["worker"] // per == t]
        ends.append(splice(mine, inp.round, origin))
        frontier += schedule(
            segments,
            ends[t],
            per,
            segments_per_worker,
            rng(seed, inp.round, SCHEDULER, *([t] if t else [])),
            bank=mine,
        )
        trajectories.append(
            {
                "trajectory": t,
                "origin": origin,
                "end_state": ends[t],
                "end_energy_eV": registry.rows[ends[t]]["energy"],
                "spliced_ps": sum(s["duration_ps"] for s in mine if s["spliced_order"] >= 0),
            }
        )
    end_state = ends[0]

    out = round_paths(out_dir)
    write_table(registry.table(), out["states"], schema.STATES)
    write_table(to_table(segments, schema.SEGMENTS), out["segments"], schema.SEGMENTS)
    write_table(
        to_table(
            sorted(edges.values(), key=lambda e: (e["initial_state"], e["final_state"])),
            schema.EDGES,
        ),
        out["edges"],
        schema.EDGES,
    )
    front_rows = [
        {
            "worker": w,
            "state": s,
            **{k: registry.rows[s][k] for k in ("key", "energy", "numbers", "positions")},
            "share": frontier.count(s) / len(frontier),
        }
        for w, s in enumerate(frontier)
    ]
    write_table(to_table(front_rows, schema.FRONTIER), out["frontier"], schema.FRONTIER)
    write_table(to_table(transitions, schema.TRANSITIONS), transitions_out, schema.TRANSITIONS)

    summary = round_summary(
        inp.round,
        segments,
        n_segments_before,
        registry,
        n_states_before,
        edges,
        end_state,
        frontier,
    )
    summary["dropped_self_matches"] = self_matches
    summary["trajectories"] = trajectories
    write_json_atomic(out["summary"], summary)
    log(
        f"round {inp.round}: {summary['transitions_round']} transitions, "
        f"{summary['states_total']} states, spliced {summary['spliced_ps_total']:g} of "
        f"{summary['generated_ps_total']:g} ps (efficiency {summary['efficiency_total']:.2f})"
    )
    return summary


def _read_shards(inp: RoundInputs):
    """(segments path, transitions path, their rows) of each worker, checked to belong to this
    round — one shard per worker, one campaign, temperature and potential."""
    seg_tables = [read_table(p, schema.SEGMENT_SHARD) for p, _ in inp.shards]
    tr_tables = [read_table(p, schema.TRANSITION_SHARD) for _, p in inp.shards]
    seg_paths, tr_paths = [p for p, _ in inp.shards], [p for _, p in inp.shards]
    check_together(seg_paths + tr_paths, seg_tables + tr_tables)
    owner: dict[int, int] = {}
    for k in range(len(inp.shards)):
        for path, table in ((seg_paths[k], seg_tables[k]), (tr_paths[k], tr_tables[k])):
            ids = zip(*(table.column(c).to_pylist() for c in ("round", "worker")), strict=True)
            for round_, worker in set(ids):
                if round_ != inp.round:
                    raise ValueError(
                        f"{path}: rows of round {round_}, but this is round {inp.round}"
                    )
                if owner.setdefault(worker, k) != k:
                    raise ValueError(
                        f"{path}: rows of worker {worker}, whose shards "
                        f"{seg_paths[owner[worker]]} already holds (each worker's shards are "
                        f"given once)"
                    )
    for k in range(len(inp.shards)):
        yield seg_paths[k], tr_paths[k], seg_tables[k].to_pylist(), tr_tables[k].to_pylist()


def _check_numbers(rows: list[dict], numbers: np.ndarray, path: Path) -> None:
    for row in rows:
        if not np.array_equal(row["numbers"], numbers):
            raise ValueError(
                f"{path}: species of round {row['round']} worker {row['worker']} "
                f"differ from the reference cluster's"
            )


def splice(segments: list[dict], round_: int, origin: int = 0) -> int:
    """Append banked segments to the trajectory that starts in state ``origin`` while one
    starts at its end state (in place: sets ``spliced_order`` and ``spliced_in_round``);
    returns the new end state."""
    spliced = sorted(
        (s for s in segments if s["spliced_order"] >= 0), key=lambda s: s["spliced_order"]
    )
    end = spliced[-1]["end_state"] if spliced else origin
    order = len(spliced)
    bank = defaultdict(deque)
    for s in sorted(segments, key=lambda s: (s["round"], s["worker"], s["segment"])):
        if s["spliced_order"] < 0:
            bank[s["start_state"]].append(s)
    while bank[end]:
        s = bank[end].popleft()
        s["spliced_order"], s["spliced_in_round"] = order, round_
        order += 1
        end = s["end_state"]
    return end


def schedule(
    segments: list[dict],
    end_state: int,
    workers: int,
    segments_per_worker: int,
    rng: np.random.Generator,
    max_walk: int = 10_000,
    bank: list[dict] | None = None,
) -> list[int]:
    """Start states of the next round's ``workers`` by virtual trajectories (see module doc):
    the chain is estimated from ``segments``, the walk consumes the unspliced segments of
    ``bank`` (the trajectory's own; all of ``segments`` by default)."""
    counts: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for s in segments:
        counts[s["start_state"]][s["end_state"]] += 1
    available = defaultdict(int)
    for s in segments if bank is None else bank:
        if s["spliced_order"] < 0:
            available[s["start_state"]] += 1

    def step(state: int) -> int:
        ends = dict(counts[state])
        ends[state] = ends.get(state, 0) + 1  # unexplored exits look like staying put
        targets = sorted(ends)
        p = np.array([ends[t] for t in targets], dtype=float)
        return targets[rng.choice(len(targets), p=p / p.sum())]

    starts = []
    for _ in range(workers):
        left, state = dict(available), end_state
        for _ in range(max_walk):
            if left.get(state, 0) == 0:
                break
            left[state] -= 1
            state = step(state)
        starts.append(state)
        promised = state
        for _ in range(segments_per_worker):  # the worker's chain, as the chain predicts it
            available[promised] += 1
            promised = step(promised)
    return starts


def round_summary(
    round_: int,
    segments: list[dict],
    n_before: int,
    registry: StateRegistry,
    n_states_before: int,
    edges: dict,
    end_state: int,
    frontier: list[int],
) -> dict:
    new = segments[n_before:]
    gen_round = sum(s["duration_ps"] for s in new)
    gen_total = sum(s["duration_ps"] for s in segments)
    spliced_total = sum(s["duration_ps"] for s in segments if s["spliced_order"] >= 0)
    spliced_round = sum(s["duration_ps"] for s in segments if s["spliced_in_round"] == round_)
    return {
        "round": round_,
        "segments_round": len(new),
        "generated_ps_round": gen_round,
        "generated_ps_total": gen_total,
        "spliced_ps_round": spliced_round,
        "spliced_ps_total": spliced_total,
        "efficiency_round": spliced_round / gen_round if gen_round else 0.0,
        "efficiency_total": spliced_total / gen_total if gen_total else 0.0,
        "states_total": len(registry.rows),
        "states_new": len(registry.rows) - n_states_before,
        "transitions_round": sum(s["transitions"] for s in new),
        "transitions_total": sum(e["count"] for e in edges.values()),
        "distinct_transitions_total": len(edges),
        "segments_banked": sum(1 for s in segments if s["spliced_order"] < 0),
        "end_state": end_state,
        "end_energy_eV": registry.rows[end_state]["energy"],
        "lowest_energy_eV": min(r["energy"] for r in registry.rows),
        "frontier": frontier,
    }
