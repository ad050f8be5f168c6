"""Arrow schemas of the kinetics stage's tables (results/<campaign>/kinetics/, docs/design.md §9).

Units as everywhere: Å, eV, ps, K; rates in 1/ps, prefactors in THz. Positions flattened per
row with ``numbers`` in the same atom order; a process's ``final_positions`` are aligned onto
its state's ``positions``. A *state* here is the kinetics stage's own integer id (0 is the
starting cluster), assigned by the round aggregator with the permutation-aware identity test.
"""

from __future__ import annotations

import pyarrow as pa

from hopformer.data.schema import NUMBERS, POSITIONS

_F = pa.float64()


def _fields(*spec) -> list[pa.Field]:
    return [pa.field(name, kind, nullable=nullable) for name, kind, nullable in spec]


#: Every state the KMC knows, with its search statistics. Cumulative, rewritten each round.
KINETIC_STATES = pa.schema(
    _fields(
        ("state", pa.int64(), False),
        ("energy", _F, False),
        ("numbers", NUMBERS, False),
        ("positions", POSITIONS, False),
        ("first_round", pa.int32(), False),
        ("searches", pa.int32(), False),  # search jobs spent on it
        ("processes", pa.int32(), False),  # validated processes
        ("window_processes", pa.int32(), False),  # of those, within the thermal window
        ("window_hits", pa.int32(), False),  # searches that ended in a window process
        ("confidence", _F, False),  # kinetics/completeness.py
        ("done", pa.bool_(), False),  # searched enough for the KMC to step on
        ("kmc_visits", pa.int32(), False),
        ("kmc_residence_ps", _F, False),
    )
)

#: The process table: one row per distinct product found from a state. Only ``valid`` rows
#: (one converged elementary step, first-order saddle, prefactor in bounds) enter the KMC;
#: the others are kept so a rediscovery is a repeat, not a second NEB. Cumulative.
PROCESSES = pa.schema(
    _fields(
        ("state", pa.int64(), False),
        ("process", pa.int32(), False),
        ("valid", pa.bool_(), False),
        ("neb_status", pa.string(), False),
        ("neb_detail", pa.string(), False),
        ("product", pa.int64(), False),  # -1 unless valid
        ("saddle_energy", _F, True),
        ("barrier", _F, True),
        ("reverse_barrier", _F, True),
        ("prefactor_thz", _F, True),
        ("rate_per_ps", _F, True),
        ("final_energy", _F, False),
        ("delta_energy", _F, False),
        ("max_displacement", _F, False),
        ("atoms_moved", pa.int32(), False),
        ("hits", pa.int32(), False),  # searches that found it
        ("finders", pa.string(), False),  # comma-separated, sorted
        ("first_finder", pa.string(), False),
        ("first_round", pa.int32(), False),
        ("validation_calls", pa.int64(), False),
        ("numbers", NUMBERS, False),
        ("final_positions", POSITIONS, False),
    )
)

#: One row per product a search job found: ``kind`` "new" (validated there; process -1) or
#: "repeat" (of known ``process``). Columns of PROCESSES that a repeat has no value for are
#: null or empty.
EVENTS = pa.schema(
    _fields(
        ("round", pa.int32(), False),
        ("job", pa.int32(), False),
        ("state", pa.int64(), False),
        ("finder", pa.string(), False),  # the first finder to hit it in this job
        ("finders", pa.string(), False),  # every finder that hit it in this job, sorted
        ("kind", pa.string(), False),
        ("process", pa.int32(), False),
        ("hits", pa.int32(), False),
        ("neb_status", pa.string(), False),
        ("neb_detail", pa.string(), False),
        ("saddle_energy", _F, True),
        ("barrier", _F, True),
        ("reverse_barrier", _F, True),
        ("prefactor_thz", _F, True),
        ("final_energy", _F, False),
        ("delta_energy", _F, False),
        ("max_displacement", _F, False),
        ("atoms_moved", pa.int32(), False),
        ("validation_calls", pa.int64(), False),
        ("numbers", NUMBERS, False),
        ("final_positions", POSITIONS, False),
    )
)

#: One row per (search job, finder): what the finder proposed and what it cost.
SEARCH_STATS = pa.schema(
    _fields(
        ("round", pa.int32(), False),
        ("job", pa.int32(), False),
        ("state", pa.int64(), False),
        ("finder", pa.string(), False),
        ("model_generation", pa.int32(), False),
        ("proposals", pa.int32(), False),
        ("no_proposal", pa.int32(), False),  # no site found, or a dimer search that failed
        ("rejected", pa.int32(), False),  # overlap, unconverged or fragmented quench
        ("back_to_initial", pa.int32(), False),
        ("repeats", pa.int32(), False),
        ("new_products", pa.int32(), False),
        ("new_valid", pa.int32(), False),
        ("new_valid_in_window", pa.int32(), False),
        ("force_calls", pa.int64(), False),  # proposals + quenches + validations
        ("validation_calls", pa.int64(), False),
        ("wall_s", _F, False),
        ("model_s", _F, False),
    )
)

#: The KMC trajectory: one row per step (a superbasin exit is one step). Cumulative.
TRAJECTORY = pa.schema(
    _fields(
        ("round", pa.int32(), False),
        ("step", pa.int64(), False),
        ("time_ps", _F, False),  # simulated time after the step
        ("state", pa.int64(), False),
        ("exit_state", pa.int64(), False),
        ("process", pa.int32(), False),
        ("product", pa.int64(), False),
        ("dt_ps", _F, False),
        ("basin", pa.int32(), False),  # states of the superbasin left (1: plain BKL step)
        ("energy", _F, False),  # of the product
    )
)

#: Where the next round's search jobs go.
TARGETS = pa.schema(_fields(("job", pa.int32(), False), ("state", pa.int64(), False)))
