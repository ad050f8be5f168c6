"""The KMC core against toy models with known answers: BKL statistics, a flickering
superbasin's exit time, the completeness rule on a state with a known catalogue."""

from __future__ import annotations

import numpy as np
import pytest

from hopformer.kinetics.completeness import coverage, in_window, state_confidence
from hopformer.kinetics.kmc import (
    Catalogue,
    Process,
    basin_exits,
    run_kmc,
    search_targets,
    superbasin,
)

PER_S = 1e-12  # a rate of 1 /s in 1/ps


def test_bkl_picks_events_by_rate_and_draws_exponential_times():
    cat = Catalogue(
        {0: [Process(0, 1, 3.0, 0.5, 0.5), Process(1, 2, 1.0, 0.6, 0.6)]},
        done={0},
    )
    rng = np.random.default_rng(1)
    steps = [run_kmc(cat, 0, rng, 1)[0] for _ in range(20_000)]
    to1 = np.mean([s.product == 1 for s in steps])
    times = np.array([s.dt for s in steps])
    assert to1 == pytest.approx(0.75, abs=0.01)  # k1 / (k1 + k2)
    assert times.mean() == pytest.approx(1 / 4.0, rel=0.03)  # 1 / Σk
    assert times.std() == pytest.approx(1 / 4.0, rel=0.05)  # exponential: std = mean


def _flicker_toy(exit_rate_per_s: float = 1e3) -> Catalogue:
    """A ⇄ B at 10¹² /s (barriers 0.02 eV both ways), B → C at ``exit_rate_per_s``."""
    fast = 1e12 * PER_S
    return Catalogue(
        {
            0: [Process(0, 1, fast, 0.02, 0.02)],
            1: [Process(0, 0, fast, 0.02, 0.02), Process(1, 2, exit_rate_per_s * PER_S, 0.8, 0.9)],
            2: [],
        },
        done={0, 1},
    )


def test_a_flickering_pair_is_left_in_one_step_with_the_right_mean_time():
    cat = _flicker_toy()
    assert superbasin(cat, 0, flicker_barrier=0.1) == [0, 1]
    mean, exits = basin_exits(cat, [0, 1], 0)
    # Exact: t_A = 1/f + t_B and t_B = 1/(f + e) + f/(f + e)·t_A give t_A = 2/e + 1/f
    # (k_AB = k_BA = f, k_BC = e): the pair spends half its time in B.
    f, e = 1.0, 1e3 * PER_S
    assert mean == pytest.approx(2 / e + 1 / f, rel=1e-6)  # I − P is near-singular
    assert [(s, p.product) for s, p, _ in exits] == [(1, 2)]
    assert exits[0][2] == pytest.approx(1.0)
    rng = np.random.default_rng(7)
    runs = [run_kmc(cat, 0, rng, 100, flicker_barrier=0.1) for _ in range(4000)]
    assert all(len(r) == 1 and r[-1].product == 2 and r[-1].basin == 2 for r in runs)
    exit_times_s = np.array([sum(s.dt for s in r) for r in runs]) * 1e-12
    assert exit_times_s.mean() == pytest.approx(2e-3, rel=0.05)  # 2/e = 2 ms


def test_without_superbasins_the_same_toy_only_flickers():
    # Each visit of B leaves with probability 10³/10¹² : ~10⁹ steps before the exit.
    cat = _flicker_toy()
    steps = run_kmc(cat, 0, np.random.default_rng(3), 10_000, flicker_barrier=0.0)
    assert len(steps) == 10_000 and all(s.product in (0, 1) for s in steps)


def test_the_kmc_stops_at_the_first_state_not_searched_enough():
    cat = Catalogue(
        {0: [Process(0, 1, 1.0, 0.3, 0.3)], 1: [Process(0, 2, 1.0, 0.3, 0.3)]}, done={0}
    )
    steps = run_kmc(cat, 0, np.random.default_rng(0), 50)
    assert [s.product for s in steps] == [1]
    gens = [np.random.default_rng(i) for i in range(4)]
    assert search_targets(cat, 0, gens) == [1, 1, 1, 1]
    assert search_targets(cat, 1, gens) == [1, 1, 1, 1]


def test_the_confidence_rises_with_repeats_and_ignores_processes_outside_the_window():
    assert coverage([1, 1, 1, 1]) == 0.0  # nothing repeats: no estimate of the total
    assert coverage([50, 50, 50]) == pytest.approx(1.0, abs=1e-6)
    assert 0 < coverage([2, 1, 1, 1]) < coverage([4, 3, 3, 2]) < 1
    kT = 0.02
    assert in_window([0.1, 0.2, 0.6], kT, 20).tolist() == [True, True, False]
    # A slow process found once (outside the window) does not lower the confidence.
    assert state_confidence([0.1, 0.2, 0.9], [9, 9, 1], kT, 20)[0] == pytest.approx(
        coverage([9, 9])
    )


@pytest.mark.parametrize("events", [5, 20, 60])
@pytest.mark.parametrize("target", [0.95, 0.99])
def test_the_stopping_rule_is_calibrated_on_a_state_with_a_known_catalogue(events, target):
    """A synthetic state with ``events`` equally likely processes, searched until the rule
    reaches ``target``, 300 seeded times: the mean fraction of the catalogue found is the
    confidence asked for, within 3 points; with 0.99, 95 % of the stops found ≥ 80 %."""
    rng = np.random.default_rng(events)
    found_fraction = []
    for _ in range(300):
        hits = np.zeros(events, dtype=int)
        while coverage(hits.tolist()) < target:
            hits[rng.integers(events)] += 1
        found_fraction.append((hits > 0).sum() / events)
    assert np.mean(found_fraction) >= target - 0.03
    if target == 0.99:
        assert np.percentile(found_fraction, 5) >= 0.8
