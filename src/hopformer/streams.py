"""Every random stream of a campaign, named in one place.

A job's randomness is a pure function of the campaign seed and the job's place in the DAG:
numpy's ``SeedSequence([seed, stream, ...])`` with a stream number from the table below, so
that no two uses of one seed draw the same numbers and a resumed job redraws exactly what the
interrupted one drew (docs/design.md, "Determinism"). The numbers are those the first
versions used, so campaigns reproduce across the rename; ``tests/unit/test_streams.py``
checks that they stay distinct.

Splicing workers are keyed ``[seed, round, worker]`` without a stream number (their MD seeds
predate this table; changing them would change every campaign's trajectory).
"""

from __future__ import annotations

import numpy as np

# transformer training: the epoch's permutation, a step's hint sizes, the val hints
TRAIN_EPOCH = 1
TRAIN_STEP = 2
TRAIN_VAL = 3
# transformer evaluation and exploration: unhinted draws, surface sites, the model-free
# kicks beside them, subset choices
SAMPLE = 11
SURFACE = 12
EXPLORE_KICK = 13
TEST_CHOICE = 21
STATE_CHOICE = 22
# the learning curve: the order in which a seed's nested subsets take training states, and
# its trainings' seeds
LEARNING_SUBSET = 23
LEARNING_TRAIN = 24
# validation shards (under which SAMPLE / SURFACE pick the candidates of one state)
VALIDATE = 31
# the MLIP's and the trajectory surrogates' training batches; the MLIP's band of each step
MLIP_STEP = 41
MLIP_BAND = 42
SURROGATE_STEP = 51
# kinetics: a search job's proposals (under it, one stream per finder), the KMC steps of a
# round, the virtual walks that place the next round's searches, the fine-tuning batches
KINETICS_SEARCH = 61
KINETICS_KMC = 62
KINETICS_WALK = 63
KINETICS_FINETUNE = 64
# the melt of each further trajectory's start (trajectory 0 melts under the campaign seed)
START = 71
# the splicing scheduler (where the next round's workers start); trajectory t > 0 of several
# spliced side by side draws from [seed, round, SCHEDULER, t]
SCHEDULER = 1 << 20

#: LAMMPS accepts seeds 1 … 899,999,999 (``fix langevin`` refuses 0 and ≥ 9·10⁸).
LAMMPS_SEEDS = 899_999_999


def rng(seed: int, *stream: int) -> np.random.Generator:
    """The generator of ``stream`` (a tuple of non-negative ints) under ``seed``."""
    return np.random.default_rng(np.random.SeedSequence([seed, *stream]))


def seed_of(seed: int, *stream: int) -> int:
    """One 32-bit integer of ``stream`` under ``seed`` (to seed torch or a backend)."""
    return int(np.random.SeedSequence([seed, *stream]).generate_state(1)[0])


def lammps_seed(value: int) -> int:
    """``value`` (any non-negative int, e.g. a checksum) folded into LAMMPS's seed range."""
    return 1 + int(value) % (LAMMPS_SEEDS - 1)


def chosen(items: list, limit: int | None, seed: int, stream: int) -> list:
    """At most ``limit`` of ``items``: a seeded choice, kept in the original order."""
    if limit is None or len(items) <= limit:
        return items
    picked = rng(seed, stream).choice(len(items), size=limit, replace=False)
    return [items[i] for i in sorted(picked)]
