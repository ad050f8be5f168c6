"""Arrow schemas of every Parquet table a campaign writes (documented in results/README.md).

Units: Å, eV, ps, K. Positions are float64, flattened per row as ``x0, y0, z0, x1, …`` (3N
values) with ``numbers`` (N atomic numbers) in the same atom order. A *key* is the 16-hex
energy-bin bucket of a minimum (:func:`hopformer.physics.states.state_key`); a *state* is the
campaign-wide integer id that the round aggregator assigns after the permutation-aware
identity test.
"""

from __future__ import annotations

import pyarrow as pa

POSITIONS = pa.list_(pa.float64())
NUMBERS = pa.list_(pa.uint8())

_IDS = [
    pa.field("campaign", pa.string(), nullable=False),
    pa.field("round", pa.int32(), nullable=False),
    pa.field("worker", pa.int32(), nullable=False),
    pa.field("segment", pa.int32(), nullable=False, metadata={"doc": "index in the worker"}),
]

#: One row per observed transition, as a segment job writes it (docs/design.md §5). The final
#: minimum is aligned onto the initial one (Kabsch), the initial one centred at the origin.
TRANSITION_SHARD = pa.schema(
    _IDS
    + [
        pa.field("block", pa.int32(), nullable=False),
        pa.field("initial_key", pa.string(), nullable=False),
        pa.field("final_key", pa.string(), nullable=False),
        pa.field("numbers", NUMBERS, nullable=False),
        pa.field("initial_positions", POSITIONS, nullable=False),
        pa.field("final_positions", POSITIONS, nullable=False),
        pa.field("initial_energy", pa.float64(), nullable=False),
        pa.field("final_energy", pa.float64(), nullable=False),
        pa.field("max_displacement", pa.float64(), nullable=False),
        pa.field("hyperdistance", pa.float64(), nullable=False),
        pa.field("atoms_moved", pa.int32(), nullable=False, metadata={"doc": "> 0.5 Å"}),
        pa.field("time_ps", pa.float64(), nullable=False, metadata={"doc": "worker MD time"}),
        pa.field("dwell_ps", pa.float64(), nullable=False),
        pa.field("temperature", pa.float64(), nullable=False),
        pa.field("potential_sha256", pa.string(), nullable=False),
    ]
)

#: The campaign's transitions dataset (one file per round): shard rows plus state ids.
TRANSITIONS = TRANSITION_SHARD.append(pa.field("initial_state", pa.int64(), nullable=False))
TRANSITIONS = TRANSITIONS.append(pa.field("final_state", pa.int64(), nullable=False))

#: One row per MD segment, as a segment job writes it.
SEGMENT_SHARD = pa.schema(
    _IDS
    + [
        pa.field("start_key", pa.string(), nullable=False),
        pa.field("end_key", pa.string(), nullable=False),
        pa.field("numbers", NUMBERS, nullable=False),
        pa.field("start_positions", POSITIONS, nullable=False),
        pa.field("end_positions", POSITIONS, nullable=False),
        pa.field("start_energy", pa.float64(), nullable=False),
        pa.field("end_energy", pa.float64(), nullable=False),
        pa.field("duration_ps", pa.float64(), nullable=False),
        pa.field("end_dwell_ps", pa.float64(), nullable=False),
        pa.field("blocks", pa.int32(), nullable=False),
        pa.field("transitions", pa.int32(), nullable=False),
        pa.field("dephase_ps", pa.float64(), nullable=False),
        pa.field("failed_quenches", pa.int32(), nullable=False),
        pa.field("wall_s", pa.float64(), nullable=False),
    ]
)

#: Every segment generated so far with its state ids; ``spliced_order`` is its place in the
#: spliced trajectory (-1 while it stays banked). Cumulative, rewritten by each round.
SEGMENTS = pa.schema(
    _IDS
    + [
        pa.field("start_state", pa.int64(), nullable=False),
        pa.field("end_state", pa.int64(), nullable=False),
        pa.field("duration_ps", pa.float64(), nullable=False),
        pa.field("transitions", pa.int32(), nullable=False),
        pa.field("spliced_order", pa.int64(), nullable=False),
        pa.field("spliced_in_round", pa.int32(), nullable=False),
    ]
)

#: Every distinct minimum found so far, with the MD residence time spent in it (all segments,
#: spliced or banked). Cumulative.
STATES = pa.schema(
    [
        pa.field("state", pa.int64(), nullable=False),
        pa.field("key", pa.string(), nullable=False),
        pa.field("energy", pa.float64(), nullable=False),
        pa.field("numbers", NUMBERS, nullable=False),
        pa.field("positions", POSITIONS, nullable=False),
        pa.field("first_round", pa.int32(), nullable=False),
        pa.field("residence_ps", pa.float64(), nullable=False),
    ]
)

#: Distinct transitions (initial state → final state) with their MD counts. Cumulative.
EDGES = pa.schema(
    [
        pa.field("initial_state", pa.int64(), nullable=False),
        pa.field("final_state", pa.int64(), nullable=False),
        pa.field("count", pa.int64(), nullable=False),
        pa.field("first_round", pa.int32(), nullable=False),
    ]
)

#: Start states of the next round's workers, chosen by the scheduler.
FRONTIER = pa.schema(
    [
        pa.field("worker", pa.int32(), nullable=False),
        pa.field("state", pa.int64(), nullable=False),
        pa.field("key", pa.string(), nullable=False),
        pa.field("energy", pa.float64(), nullable=False),
        pa.field("numbers", NUMBERS, nullable=False),
        pa.field("positions", POSITIONS, nullable=False),
        pa.field("share", pa.float64(), nullable=False, metadata={"doc": "fraction of workers"}),
    ]
)

#: MD-observed rates k_ij = N_ij / τ_i.
RATES = pa.schema(
    [
        pa.field("initial_state", pa.int64(), nullable=False),
        pa.field("final_state", pa.int64(), nullable=False),
        pa.field("initial_key", pa.string(), nullable=False),
        pa.field("final_key", pa.string(), nullable=False),
        pa.field("initial_energy", pa.float64(), nullable=False),
        pa.field("final_energy", pa.float64(), nullable=False),
        pa.field("delta_energy", pa.float64(), nullable=False),
        pa.field("count", pa.int64(), nullable=False),
        pa.field("residence_ps", pa.float64(), nullable=False),
        pa.field("rate_per_ps", pa.float64(), nullable=False),
        pa.field("rate_stderr_per_ps", pa.float64(), nullable=False),
        pa.field("temperature", pa.float64(), nullable=False),
    ]
)

#: Columns whose per-row length must be 3 × len(numbers).
POSITION_COLUMNS = (
    "initial_positions",
    "final_positions",
    "start_positions",
    "end_positions",
    "positions",
    "velocities",
)

#: The transformer's dataset (dataset/{train,val,test}.parquet): one row per distinct
#: transition (initial state → final state), the first observation of it, with how often MD
#: saw it. Split by initial state: no initial state appears in two splits.
DATASET = TRANSITIONS.append(pa.field("count", pa.int64(), nullable=False)).append(
    pa.field("split", pa.string(), nullable=False)
)

#: accuracy(k) on the held-out split (docs/design.md §6), model beside the model-free baseline.
ACCURACY = pa.schema(
    [
        pa.field("k", pa.int32(), nullable=False, metadata={"doc": "hint atoms"}),
        pa.field("k_fraction", pa.float64(), nullable=False, metadata={"doc": "k / N"}),
        pa.field("transitions", pa.int64(), nullable=False),
        pa.field("model_success", pa.int64(), nullable=False),
        pa.field("baseline_success", pa.int64(), nullable=False),
        pa.field("accuracy", pa.float64(), nullable=False),
        pa.field("baseline_accuracy", pa.float64(), nullable=False),
        pa.field("margin", pa.float64(), nullable=False),
        pa.field("model_back_to_initial", pa.float64(), nullable=False),
        pa.field("model_failed", pa.float64(), nullable=False),
    ]
)

#: One row per (held-out transition, k): what the model's and the baseline's candidates
#: relaxed to.
ACCURACY_DETAILS = pa.schema(
    [
        pa.field("initial_state", pa.int64(), nullable=False),
        pa.field("final_state", pa.int64(), nullable=False),
        pa.field("k", pa.int32(), nullable=False),
        pa.field("atoms_moved", pa.int32(), nullable=False),
        pa.field("model_status", pa.string(), nullable=False),
        pa.field("model_success", pa.bool_(), nullable=False),
        pa.field("model_energy", pa.float64(), nullable=True),
        pa.field("baseline_status", pa.string(), nullable=False),
        pa.field("baseline_success", pa.bool_(), nullable=False),
        pa.field("baseline_energy", pa.float64(), nullable=True),
    ]
)

#: Energies and geometry of a change from an initial to a final minimum.
_CHANGE = [
    pa.field("initial_energy", pa.float64(), nullable=False),
    pa.field("final_energy", pa.float64(), nullable=False),
    pa.field("delta_energy", pa.float64(), nullable=False),
    pa.field("max_displacement", pa.float64(), nullable=False),
    pa.field("hyperdistance", pa.float64(), nullable=False),
    pa.field("atoms_moved", pa.int32(), nullable=False, metadata={"doc": "> 0.5 Å"}),
]

#: Exploration (hints made without knowing the final state): one row per distinct transition
#: a held-out initial state's candidates relaxed to.
EXPLORATION = pa.schema(
    [pa.field("initial_state", pa.int64(), nullable=False)]
    + _CHANGE
    + [
        pa.field("candidates", pa.int64(), nullable=False, metadata={"doc": "that found it"}),
        pa.field("hint_kinds", pa.string(), nullable=False),
        pa.field("md_final_state", pa.int64(), nullable=False, metadata={"doc": "-1: novel"}),
        pa.field("novel", pa.bool_(), nullable=False),
        pa.field("numbers", NUMBERS, nullable=False),
        pa.field("initial_positions", POSITIONS, nullable=False),
        pa.field("final_positions", POSITIONS, nullable=False),
    ]
)

_NEB = [
    pa.field(
        "neb_status",
        pa.string(),
        nullable=False,
        metadata={"doc": "ok | split | unconverged | no_saddle | not_first_order | rejected"},
    ),
    pa.field("neb_detail", pa.string(), nullable=False, metadata={"doc": "why, when not ok"}),
    pa.field("neb_segments", pa.int32(), nullable=False, metadata={"doc": "bands in the path"}),
    pa.field("neb_steps", pa.int64(), nullable=False, metadata={"doc": "FIRE steps, all bands"}),
    pa.field("saddle_energy", pa.float64(), nullable=True, metadata={"doc": "eV; ok rows only"}),
    pa.field("barrier", pa.float64(), nullable=True, metadata={"doc": "forward Ea, eV"}),
    pa.field("reverse_barrier", pa.float64(), nullable=True, metadata={"doc": "eV"}),
    pa.field("prefactor_thz", pa.float64(), nullable=True, metadata={"doc": "Vineyard ν"}),
    pa.field(
        "imaginary_modes",
        pa.int32(),
        nullable=False,
        metadata={"doc": "at the climbing image; -1: not computed"},
    ),
]

_FOUND = [
    pa.field(
        "transition_id",
        pa.string(),
        nullable=False,
        metadata={"doc": "<initial_state>-<final_state>, or <initial_state>-n<k> if novel"},
    ),
    pa.field("initial_state", pa.int64(), nullable=False),
    pa.field("final_state", pa.int64(), nullable=False, metadata={"doc": "MD id; -1: novel"}),
    pa.field("initial_key", pa.string(), nullable=False),
    pa.field("final_key", pa.string(), nullable=False),
    *_CHANGE,
    pa.field(
        "found_by", pa.string(), nullable=False, metadata={"doc": "md | model | both | model_free"}
    ),
    pa.field("novel", pa.bool_(), nullable=False, metadata={"doc": "MD never saw it"}),
    pa.field("md_count", pa.int64(), nullable=False, metadata={"doc": "0 if MD never saw it"}),
    pa.field("model_candidates", pa.int64(), nullable=False, metadata={"doc": "that found it"}),
    pa.field("hint_kinds", pa.string(), nullable=False),
    pa.field("held_out", pa.bool_(), nullable=False, metadata={"doc": "state in the test split"}),
]

#: One validated transition per row (validation/shard-<s>.parquet): who found it, NEB, hTST
#: prefactor, and the whole path (images of all bands, ends shared) for plots and extxyz.
VALIDATION = pa.schema(
    _FOUND
    + _NEB
    + [
        pa.field("numbers", NUMBERS, nullable=False),
        pa.field("initial_positions", POSITIONS, nullable=False),
        pa.field("final_positions", POSITIONS, nullable=False),
        pa.field("path_images", pa.int32(), nullable=False),
        pa.field("path_energies", POSITIONS, nullable=False, metadata={"doc": "eV, from 0"}),
        pa.field("path_positions", POSITIONS, nullable=False, metadata={"doc": "images × 3N"}),
    ]
)

#: The campaign's rate/energy table (validation/rates.parquet): VALIDATION without the
#: geometry, plus hTST rates k = ν exp(−Ea/kT) at the campaign temperature and at
#: validation.temperatures, and the MD rate of the same transition when MD saw it.
RATE_TABLE = pa.schema(
    _FOUND
    + _NEB
    + [
        pa.field("temperature", pa.float64(), nullable=False, metadata={"doc": "campaign, K"}),
        pa.field("htst_rate_per_ps", pa.float64(), nullable=True, metadata={"doc": "at T"}),
        pa.field("md_rate_per_ps", pa.float64(), nullable=True, metadata={"doc": "N_ij / τ_i"}),
        pa.field("md_rate_stderr_per_ps", pa.float64(), nullable=True),
        pa.field("htst_temperatures", POSITIONS, nullable=False, metadata={"doc": "K"}),
        pa.field(
            "htst_rates_per_ps",
            POSITIONS,
            nullable=False,
            metadata={"doc": "at htst_temperatures; NaN-free: empty when no rate"},
        ),
    ]
)

#: Reference MD for the trajectory surrogates (trajectory/reference/<run>.parquet): one row
#: per recorded frame of one run (system, ensemble, temperature, seed).
TRAJECTORY_FRAMES = pa.schema(
    [
        pa.field(
            "run", pa.string(), nullable=False, metadata={"doc": "<system>-<ensemble>-T<K>-s<seed>"}
        ),
        pa.field("system", pa.string(), nullable=False, metadata={"doc": "cluster | bulk"}),
        pa.field("ensemble", pa.string(), nullable=False, metadata={"doc": "nve | langevin"}),
        pa.field("temperature", pa.float64(), nullable=False),
        pa.field("seed", pa.int32(), nullable=False),
        pa.field("frame", pa.int32(), nullable=False),
        pa.field(
            "time_fs", pa.float64(), nullable=False, metadata={"doc": "since production began"}
        ),
        pa.field("timestep_fs", pa.float64(), nullable=False),
        pa.field("numbers", NUMBERS, nullable=False),
        pa.field("positions", POSITIONS, nullable=False, metadata={"doc": "wrapped into the cell"}),
        pa.field("velocities", POSITIONS, nullable=False, metadata={"doc": "Å/fs"}),
        pa.field(
            "cell",
            POSITIONS,
            nullable=False,
            metadata={"doc": "9 values, rows = vectors; empty: free"},
        ),
        pa.field("potential_energy", pa.float64(), nullable=False),
        pa.field("kinetic_energy", pa.float64(), nullable=False),
        pa.field("potential_sha256", pa.string(), nullable=False),
    ]
)

#: Labelled configurations for the ML interatomic potential (mlip/data.parquet): one row per
#: configuration, labelled with the reference potential.
MLIP_DATA = pa.schema(
    [
        pa.field("config_id", pa.string(), nullable=False, metadata={"doc": "<group>/<index>"}),
        pa.field(
            "source", pa.string(), nullable=False, metadata={"doc": "splicing | hot | neb | bulk"}
        ),
        pa.field(
            "group",
            pa.string(),
            nullable=False,
            metadata={"doc": "the run or band it came from; splits keep groups whole"},
        ),
        pa.field("split", pa.string(), nullable=False, metadata={"doc": "train | val | test"}),
        pa.field("numbers", NUMBERS, nullable=False),
        pa.field("positions", POSITIONS, nullable=False),
        pa.field(
            "cell",
            POSITIONS,
            nullable=False,
            metadata={"doc": "9 values, rows = vectors; empty: free"},
        ),
        pa.field("energy", pa.float64(), nullable=False, metadata={"doc": "eV"}),
        pa.field("forces", POSITIONS, nullable=False, metadata={"doc": "eV/Å, 3N"}),
        pa.field("potential_sha256", pa.string(), nullable=False),
    ]
)
