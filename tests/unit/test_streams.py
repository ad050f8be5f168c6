"""One table of random streams: distinct numbers, reproducible draws, LAMMPS's seed range."""

from __future__ import annotations

import numpy as np

from hopformer import streams

NAMES = [n for n in dir(streams) if n.isupper() and n != "LAMMPS_SEEDS"]


def test_every_stream_number_is_distinct():
    numbers = [getattr(streams, n) for n in NAMES]
    assert len(NAMES) >= 10 and len(set(numbers)) == len(numbers), dict(
        zip(NAMES, numbers, strict=True)
    )


def test_streams_draw_apart_and_repeat():
    a = streams.rng(7, streams.SAMPLE).random(4)
    assert np.array_equal(a, streams.rng(7, streams.SAMPLE).random(4))
    assert not np.allclose(a, streams.rng(7, streams.SURFACE).random(4))
    assert streams.seed_of(7, streams.SAMPLE, 1) != streams.seed_of(7, streams.SAMPLE, 2)


def test_lammps_seeds_stay_in_range():
    for value in (0, 1, streams.LAMMPS_SEEDS - 1, streams.LAMMPS_SEEDS, 2**32 - 1, 10**12):
        assert 1 <= streams.lammps_seed(value) <= streams.LAMMPS_SEEDS


def test_a_seeded_choice_keeps_order_and_repeats():
    items = list(range(100))
    pick = streams.chosen(items, 10, 3, streams.STATE_CHOICE)
    assert pick == sorted(pick) and len(set(pick)) == 10
    assert pick == streams.chosen(items, 10, 3, streams.STATE_CHOICE)
    assert streams.chosen(items, None, 3, streams.STATE_CHOICE) == items
