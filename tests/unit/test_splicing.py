"""Segment workers, round aggregation, splicing, scheduling and the MD rate estimator."""

from __future__ import annotations

import numpy as np
import pytest
from ase.io import write

from hopformer.data import schema
from hopformer.data.shards import read_table
from hopformer.physics.potentials import open_engine
from hopformer.physics.states import align, same_state
from hopformer.splicing.rates import md_rates
from hopformer.splicing.segments import (
    SegmentSpec,
    Worker,
    WorkerId,
    load_start,
    write_worker_shards,
)
from hopformer.splicing.splice import RoundInputs, round_paths, schedule, splice, splice_round

SPEC = SegmentSpec(temperature=900.0, segments=3, segment_ps=4.0, block_ps=0.5)


def _run_worker(atoms, potential, worker, seed=7, spec=SPEC):
    engine = open_engine(atoms, potential)
    rows = Worker(engine, spec, WorkerId("test", 0, worker), seed, "sha", log=lambda m: None).run(
        atoms.positions
    )
    return engine, rows


def test_worker_is_seeded_and_records_real_minima(pt_potential, disordered_pt55):
    engine, (segments, transitions) = _run_worker(disordered_pt55, pt_potential, 0)
    _, (segments2, transitions2) = _run_worker(disordered_pt55, pt_potential, 0)
    _, (_, transitions_w1) = _run_worker(disordered_pt55, pt_potential, 1)
    assert len(transitions) >= 2, "a melt-quenched Pt55 at 900 K should hop within 12 ps"
    assert [t["final_energy"] for t in transitions] == [t["final_energy"] for t in transitions2]
    assert np.array_equal(transitions[-1]["final_positions"], transitions2[-1]["final_positions"])
    assert [t["final_energy"] for t in transitions] != [t["final_energy"] for t in transitions_w1]

    numbers = disordered_pt55.numbers
    for tr in transitions:
        x0, x1 = tr["initial_positions"], tr["final_positions"]
        assert np.allclose(x0.mean(0), 0.0, atol=1e-9)
        assert np.allclose(align(x0, x1), x1, atol=1e-8), "final is stored aligned onto initial"
        assert not same_state(x0, x1, numbers)
        assert tr["max_displacement"] > SPEC.state_tol
        for x, e in ((x0, tr["initial_energy"]), (x1, tr["final_energy"])):
            engine.set_positions(x)  # rigid motions keep a minimum a minimum
            assert np.sqrt((engine.forces() ** 2).sum(1)).max() <= SPEC.quench_fmax
            assert engine.energy() == pytest.approx(e, abs=1e-8)
    for a, b in zip(transitions, transitions[1:], strict=False):  # one trajectory: a chain
        assert same_state(a["final_positions"], b["initial_positions"], numbers)
    # Every picosecond of segment MD is attributed to exactly one state.
    for seg in segments:
        dwell = sum(t["dwell_ps"] for t in transitions if t["segment"] == seg["segment"])
        assert dwell + seg["end_dwell_ps"] == pytest.approx(seg["duration_ps"])
        assert seg["duration_ps"] >= SPEC.segment_ps
        assert seg["transitions"] == sum(t["segment"] == seg["segment"] for t in transitions)


def test_round_aggregation_identifies_states_across_workers(
    pt_potential, disordered_pt55, tmp_path
):
    write(tmp_path / "cluster.extxyz", disordered_pt55)
    shards = []
    for w in range(2):
        _, (segments, transitions) = _run_worker(disordered_pt55, pt_potential, w)
        seg, tr = tmp_path / f"w{w}.seg.parquet", tmp_path / f"w{w}.tr.parquet"
        write_worker_shards(segments, transitions, seg, tr)
        shards.append((seg, tr))
    inp = RoundInputs(round=0, shards=shards, previous=None, cluster=tmp_path / "cluster.extxyz")
    summary = splice_round(
        inp,
        tmp_path / "r0",
        tmp_path / "tr0.parquet",
        next_workers=3,
        segments_per_worker=2,
        seed=1,
        log=lambda m: None,
    )
    paths = round_paths(tmp_path / "r0")
    states = read_table(paths["states"], schema.STATES).to_pylist()
    segments = read_table(paths["segments"], schema.SEGMENTS).to_pylist()
    edges = read_table(paths["edges"], schema.EDGES).to_pylist()
    transitions = read_table(tmp_path / "tr0.parquet", schema.TRANSITIONS).to_pylist()

    numbers = disordered_pt55.numbers
    # Both workers start in the reference state, state 0: their first segments start there.
    assert [s["start_state"] for s in segments if s["segment"] == 0] == [0, 0]
    # Distinct ids are distinct minima; equal ids are the same minimum.
    pos = [np.reshape(s["positions"], (-1, 3)) for s in states]
    for i in range(len(pos)):
        for j in range(i + 1, len(pos)):
            if abs(states[i]["energy"] - states[j]["energy"]) < 1e-3:
                assert not same_state(pos[i], pos[j], numbers, relabel=True)
    for tr in transitions:
        x0, x1 = (np.reshape(tr[k], (-1, 3)) for k in ("initial_positions", "final_positions"))
        assert same_state(pos[tr["initial_state"]], x0, numbers, relabel=True)
        assert same_state(pos[tr["final_state"]], x1, numbers, relabel=True)
    # Worker 0's chain is one trajectory from state 0: all of it splices, in order.
    spliced = sorted(
        (s for s in segments if s["spliced_order"] >= 0), key=lambda s: s["spliced_order"]
    )
    assert [s["segment"] for s in spliced if s["worker"] == 0] == [0, 1, 2]
    for a, b in zip(spliced, spliced[1:], strict=False):
        assert a["end_state"] == b["start_state"]
    assert summary["spliced_ps_total"] == pytest.approx(sum(s["duration_ps"] for s in spliced))
    assert summary["transitions_total"] == sum(e["count"] for e in edges) == len(transitions)
    total_md = sum(s["duration_ps"] for s in segments)
    assert sum(s["residence_ps"] for s in states) == pytest.approx(total_md)
    frontier = read_table(paths["frontier"], schema.FRONTIER).to_pylist()
    assert [f["worker"] for f in frontier] == [0, 1, 2]
    assert frontier[0]["state"] == summary["end_state"]


def _seg(worker, segment, start, end, round_=0, order=-1):
    return {
        "round": round_,
        "worker": worker,
        "segment": segment,
        "start_state": start,
        "end_state": end,
        "duration_ps": 10.0,
        "spliced_order": order,
        "spliced_in_round": -1 if order < 0 else 0,
    }


def test_splice_appends_only_matching_segments_and_uses_the_bank_later():
    segments = [_seg(0, 0, 0, 1), _seg(0, 1, 1, 2), _seg(1, 0, 0, 3), _seg(1, 1, 3, 0)]
    assert splice(segments, 0) == 2
    assert [s["spliced_order"] for s in segments] == [0, 1, -1, -1]
    # Next round a segment 2 → 0 arrives: the banked 0 → 3 → 0 chain follows it.
    segments.append(_seg(0, 0, 2, 0, round_=1))
    assert splice(segments, 1) == 0  # 2 → 0, then the banked 0 → 3 → 0; nothing else starts at 0
    assert [s["spliced_order"] for s in segments] == [0, 1, 3, 4, 2]


def test_schedule_puts_the_first_worker_at_the_end_state_and_is_seeded():
    segments = [_seg(0, k, k % 3, (k + 1) % 3, order=k) for k in range(30)]
    a = schedule(segments, 5, 6, 2, np.random.default_rng(1))
    b = schedule(segments, 5, 6, 2, np.random.default_rng(1))
    assert a == b and a[0] == 5
    # From a cycle 0 → 1 → 2 → 0 the virtual trajectory places workers along the cycle.
    c = schedule(segments, 0, 4, 1, np.random.default_rng(2))
    assert c[0] == 0 and set(c) <= {0, 1, 2} and len(set(c)) > 1


def test_md_rate_estimator_recovers_known_rates_of_a_jump_process():
    """k_ij = N_ij / τ_i on a simulated three-state Markov jump process with known rates."""
    k = np.array([[0.0, 0.2, 0.05], [0.1, 0.0, 0.3], [0.02, 0.04, 0.0]])  # per ps
    rng = np.random.default_rng(0)
    residence, counts, state = np.zeros(3), np.zeros((3, 3), int), 0
    for _ in range(40_000):
        total = k[state].sum()
        residence[state] += rng.exponential(1 / total)
        nxt = rng.choice(3, p=k[state] / total)
        counts[state, nxt] += 1
        state = nxt
    states = [
        {"state": i, "key": f"k{i}", "energy": -float(i), "residence_ps": residence[i]}
        for i in range(3)
    ]
    edges = [
        {"initial_state": i, "final_state": j, "count": int(counts[i, j])}
        for i in range(3)
        for j in range(3)
        if counts[i, j]
    ]
    rows = md_rates(states, edges, temperature=700.0)
    for r in rows:
        i, j = r["initial_state"], r["final_state"]
        assert abs(r["rate_per_ps"] - k[i, j]) < 4 * r["rate_stderr_per_ps"]
        assert r["rate_per_ps"] == pytest.approx(k[i, j], rel=0.06)
    assert rows[0]["count"] == max(r["count"] for r in rows)
    assert len(md_rates(states, edges, 700.0, min_count=10**9)) == 0


def test_the_registry_knows_a_minimum_again_after_its_atoms_exchange_places(disordered_pt55):
    from scipy.spatial.transform import Rotation

    from hopformer.splicing.registry import StateRegistry

    x, numbers = disordered_pt55.positions, disordered_pt55.numbers
    energy = disordered_pt55.get_potential_energy()
    rng = np.random.default_rng(5)
    y = Rotation.random(random_state=rng).apply(x[rng.permutation(len(x))])
    for relabel, expected in ((True, 0), (False, 1)):
        registry = StateRegistry(numbers, relabel=relabel)
        assert registry.identify(x, energy, 0) == 0
        assert registry.identify(y, energy + 1e-8, 0) == expected, f"relabel={relabel}"


def test_a_trajectory_splices_from_its_own_origin_and_banks_only_its_own_segments():
    # Trajectory 1 starts in state 4; a segment from state 4 is its first, whatever came before.
    mine = [_seg(1, 0, 4, 5), _seg(1, 1, 5, 6)]
    assert splice(mine, 0, origin=4) == 6
    assert [s["spliced_order"] for s in mine] == [0, 1]
    # The scheduler's chain learns from every trajectory's segments (0 → 1 → 2 → 0 here), but
    # the walk consumes only the trajectory's own bank: with none banked it starts at the end.
    everyone = [_seg(0, k, k % 3, (k + 1) % 3, order=-1) for k in range(30)]
    own = [schedule(everyone, 0, 4, 1, np.random.default_rng(r), bank=[])[0] for r in range(8)]
    assert own == [0] * 8
    shared = [schedule(everyone, 0, 4, 1, np.random.default_rng(r))[0] for r in range(8)]
    assert set(shared) != {0}, "with the 30 banked segments the walks go on from the end state"


def test_trajectories_side_by_side_share_states_and_splice_apart(
    pt_potential, disordered_pt55, pt55_transitions, tmp_path
):
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator

    start0 = tmp_path / "cluster.extxyz"
    write(start0, disordered_pt55)
    last = pt55_transitions[-1]  # another minimum of the same cluster: trajectory 1's start
    other = Atoms(numbers=last["numbers"], positions=last["final_positions"])
    other.calc = SinglePointCalculator(other, energy=last["final_energy"])
    start1 = tmp_path / "start-001.extxyz"
    write(start1, other)
    starts = (disordered_pt55, other)

    def run_round(r, previous, frontier=None):
        shards = []
        for w in range(4):  # two workers per trajectory
            atoms = starts[w // 2].copy() if frontier is None else load_start(frontier, w)
            engine = open_engine(atoms, pt_potential)
            spec = SegmentSpec(temperature=900.0, segments=2, segment_ps=3.0, block_ps=0.5)
            rows = Worker(engine, spec, WorkerId("test", r, w), 7, "sha", log=lambda m: None).run(
                atoms.positions
            )
            seg, tr = tmp_path / f"r{r}w{w}.seg.parquet", tmp_path / f"r{r}w{w}.tr.parquet"
            write_worker_shards(*rows, seg, tr)
            shards.append((seg, tr))
        inp = RoundInputs(r, shards, previous, start0, starts=[start1])
        summary = splice_round(
            inp, tmp_path / f"r{r}", tmp_path / f"tr{r}.parquet", 4, 2, seed=1, log=lambda m: None
        )
        return summary, round_paths(tmp_path / f"r{r}")

    frontier = None  # round 1's workers start from round 0's frontier file
    for r in range(2):
        summary, paths = run_round(r, None if r == 0 else tmp_path / "r0", frontier)
        trajectories = summary["trajectories"]
        assert [t["origin"] for t in trajectories] == [0, 1], "the starts are states 0 and 1"
        segments = read_table(paths["segments"], schema.SEGMENTS).to_pylist()
        if r == 0:
            assert [s["start_state"] for s in segments if s["segment"] == 0] == [0, 0, 1, 1]
        for t in trajectories:
            # Each trajectory is one chain of its own workers' segments from its own origin.
            spliced = sorted(
                (
                    s
                    for s in segments
                    if s["spliced_order"] >= 0 and s["worker"] // 2 == t["trajectory"]
                ),
                key=lambda s: s["spliced_order"],
            )
            assert [s["spliced_order"] for s in spliced] == list(range(len(spliced)))
            assert spliced and spliced[0]["start_state"] == t["origin"]
            for a, b in zip(spliced, spliced[1:], strict=False):
                assert a["end_state"] == b["start_state"]
            assert spliced[-1]["end_state"] == t["end_state"]
            assert t["spliced_ps"] == pytest.approx(sum(s["duration_ps"] for s in spliced))
        assert summary["spliced_ps_total"] == pytest.approx(
            sum(t["spliced_ps"] for t in trajectories)
        )
        # The next round's workers: the first of each trajectory's block at its end state.
        frontier = paths["frontier"]
        rows = read_table(frontier, schema.FRONTIER).to_pylist()
        assert [f["worker"] for f in rows] == [0, 1, 2, 3]
        assert rows[0]["state"] == trajectories[0]["end_state"] == summary["end_state"]
        assert rows[2]["state"] == trajectories[1]["end_state"]
    # One registry: both trajectories' minima are states of one table, each once.
    states = read_table(paths["states"], schema.STATES).to_pylist()
    assert [s["state"] for s in states] == list(range(len(states)))
    assert summary["states_total"] == len(states)

    with pytest.raises(ValueError, match="4 workers cannot be split evenly among 3 trajectories"):
        splice_round(
            RoundInputs(0, [], None, start0, starts=[start1, start1]),
            tmp_path / "bad",
            tmp_path / "bad.parquet",
            4,
            2,
            seed=1,
            log=lambda m: None,
        )
