"""A segment worker: dephase in a start state, run MD segments with a quench every block, and
record every segment and every state change as Parquet rows.

Within one worker atoms keep their indices, so consecutive quenched minima are compared with
the same labelling (the fast path of :func:`~hopformer.physics.states.same_state`). The
worker's segments are consecutive pieces of one trajectory: segment k + 1 starts where segment
k ended, so the aggregator may splice them one after the other. As in ParSplice (Perez et al.,
JCTC 12, 18 (2016)) a segment is extended block by block until its final state has been held
for ``correlation_blocks`` blocks, so its end is decorrelated within that state and any
segment dephased there may follow it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.io import read

from hopformer.data import schema
from hopformer.data.shards import read_table, write_rows
from hopformer.physics.engine import Engine, Langevin, MinimizeResult
from hopformer.physics.states import (
    MOVED,
    QUENCH_FMAX,
    SAME_STATE_TOL,
    align,
    hyperdistance,
    max_displacement,
    quench,
    same_state,
    state_key,
)
from hopformer.streams import LAMMPS_SEEDS, rng


@dataclass(frozen=True)
class SegmentSpec:
    """MD and state-detection settings of a segment worker (times in ps, temperature in K)."""

    temperature: float
    segments: int = 5
    segment_ps: float = 50.0
    block_ps: float = 1.0
    dephase_ps: float = 1.0
    dephase_tries: int = 20
    correlation_blocks: int = 1
    max_extension_blocks: int = 100
    timestep_fs: float = 2.0
    damping_fs: float = 100.0
    quench_fmax: float = QUENCH_FMAX
    state_tol: float = SAME_STATE_TOL

    def __post_init__(self):
        for name in (
            "temperature",
            "segment_ps",
            "block_ps",
            "dephase_ps",
            "timestep_fs",
            "damping_fs",
            "quench_fmax",
            "state_tol",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"segment spec: {name} must be > 0, got {getattr(self, name)}")
        if self.segments < 1 or self.correlation_blocks < 0 or self.dephase_tries < 1:
            raise ValueError(
                f"segment spec: segments ≥ 1, correlation_blocks ≥ 0 and "
                f"dephase_tries ≥ 1 expected, got {self}"
            )

    @property
    def steps_per_block(self) -> int:
        steps = round(self.block_ps * 1000.0 / self.timestep_fs)
        if steps < 1 or abs(steps * self.timestep_fs - self.block_ps * 1000.0) > 1e-6:
            raise ValueError(
                f"block_ps {self.block_ps} is not a whole number of {self.timestep_fs} fs steps"
            )
        return steps

    @property
    def blocks_per_segment(self) -> int:
        return max(1, round(self.segment_ps / self.block_ps))


@dataclass(frozen=True)
class WorkerId:
    campaign: str
    round: int
    worker: int


def worker_seeds(seed: int, round_: int, worker: int) -> np.random.Generator:
    """The worker's random stream, fixed by (campaign seed, round, worker)."""
    return rng(seed, round_, worker)  # keyed without a stream number: see hopformer.streams


def _draw_seed(generator: np.random.Generator) -> int:
    return int(generator.integers(1, LAMMPS_SEEDS + 1))


def load_start(path: str | Path, worker: int) -> Atoms:
    """The worker's start: the reference cluster (extxyz) or its row of a frontier Parquet."""
    path = Path(path)
    if path.suffix == ".parquet":
        table = read_table(path, schema.FRONTIER).to_pylist()
        rows = [r for r in table if r["worker"] == worker]
        if len(rows) != 1:
            raise ValueError(
                f"frontier {path} has {len(rows)} rows for worker {worker}, expected 1"
            )
        numbers = np.array(rows[0]["numbers"])
        return Atoms(numbers=numbers, positions=np.reshape(rows[0]["positions"], (-1, 3)))
    atoms = read(path)
    return Atoms(numbers=atoms.numbers, positions=atoms.positions)


def _centred(x: np.ndarray) -> np.ndarray:
    return x - x.mean(0)


class Worker:
    """Runs one worker's segments on an engine that already holds the system."""

    def __init__(
        self,
        engine: Engine,
        spec: SegmentSpec,
        ids: WorkerId,
        seed: int,
        potential_sha256: str,
        log: Callable[[str], None] = print,
    ):
        self.engine, self.spec, self.ids, self.log = engine, spec, ids, log
        self.numbers = engine.atoms.numbers.copy()
        self.rng = worker_seeds(seed, ids.round, ids.worker)
        self.potential_sha256 = potential_sha256
        self.md = Langevin(
            spec.temperature, spec.timestep_fs, spec.damping_fs, seed=_draw_seed(self.rng)
        )
        self.failed_quenches = 0

    def _quench(self, positions: np.ndarray | None = None) -> MinimizeResult | None:
        try:
            return quench(self.engine, positions, fmax=self.spec.quench_fmax)
        except RuntimeError as exc:
            self.failed_quenches += 1
            self.log(f"  quench failed, block not identified: {exc}")
            return None

    def _same(self, a: MinimizeResult, b: MinimizeResult) -> bool:
        return same_state(a.positions, b.positions, self.numbers, tol=self.spec.state_tol)

    def dephase(self, start: MinimizeResult) -> float:
        """Thermalise in ``start`` until a dephasing run ends in it; returns the MD time spent."""
        spec, spent = self.spec, 0.0
        steps = max(1, round(spec.dephase_ps * 1000.0 / spec.timestep_fs))
        for attempt in range(spec.dephase_tries):
            self.engine.set_positions(start.positions)
            self.engine.thermalize(spec.temperature, seed=_draw_seed(self.rng))
            self.engine.run(steps, self.md)
            spent += steps * spec.timestep_fs / 1000.0
            q = self._quench()
            if q is not None and self._same(start, q):
                return spent
            self.log(f"  dephasing attempt {attempt + 1} left the start state; retrying")
        raise RuntimeError(
            f"dephasing left the start state in all {spec.dephase_tries} tries "
            f"of {spec.dephase_ps} ps at {spec.temperature} K"
        )

    def run(self, start_positions: np.ndarray) -> tuple[list[dict], list[dict]]:
        """Quench the start, dephase, run the segments; returns (segment rows, transition rows)."""
        spec = self.spec
        start = quench(self.engine, start_positions, fmax=spec.quench_fmax, restore=False)
        dephase_ps = self.dephase(start)
        segments, transitions = [], []
        current, entered, t = start, 0.0, 0.0
        for k in range(spec.segments):
            wall0, seg_start, seg_t0 = time.perf_counter(), current, t
            failed0, n_tr, blocks, held = self.failed_quenches, 0, 0, 0
            while blocks < spec.blocks_per_segment or (
                held < spec.correlation_blocks
                and blocks < spec.blocks_per_segment + spec.max_extension_blocks
            ):
                self.engine.run(spec.steps_per_block, self.md)
                t += spec.block_ps
                blocks += 1
                q = self._quench()
                if q is None or self._same(current, q):
                    held += 1
                    continue
                transitions.append(
                    self._transition_row(k, blocks, current, q, t, t - max(entered, seg_t0))
                )
                current, entered, held, n_tr = q, t, 0, n_tr + 1
            segments.append(
                {
                    **self._ids(k),
                    "start_key": state_key(seg_start.energy, self.numbers),
                    "end_key": state_key(current.energy, self.numbers),
                    "numbers": self.numbers,
                    "start_positions": _centred(seg_start.positions),
                    "end_positions": _centred(current.positions),
                    "start_energy": seg_start.energy,
                    "end_energy": current.energy,
                    "duration_ps": t - seg_t0,
                    "end_dwell_ps": t - max(entered, seg_t0),
                    "blocks": blocks,
                    "transitions": n_tr,
                    "dephase_ps": dephase_ps if k == 0 else 0.0,
                    "failed_quenches": self.failed_quenches - failed0,
                    "wall_s": time.perf_counter() - wall0,
                }
            )
            self.log(
                f"segment {k + 1}/{spec.segments}: {t - seg_t0:g} ps, {n_tr} transitions, "
                f"end energy {current.energy:.4f} eV"
            )
        return segments, transitions

    def _ids(self, segment: int) -> dict:
        i = self.ids
        return {"campaign": i.campaign, "round": i.round, "worker": i.worker, "segment": segment}

    def _transition_row(self, segment, block, initial, final, t, dwell) -> dict:
        x0 = _centred(initial.positions)
        x1 = align(x0, final.positions)
        moved = np.sqrt(((x1 - x0) ** 2).sum(1))
        return {
            **self._ids(segment),
            "block": block,
            "initial_key": state_key(initial.energy, self.numbers),
            "final_key": state_key(final.energy, self.numbers),
            "numbers": self.numbers,
            "initial_positions": x0,
            "final_positions": x1,
            "initial_energy": initial.energy,
            "final_energy": final.energy,
            "max_displacement": max_displacement(x0, x1),
            "hyperdistance": hyperdistance(x0, x1),
            "atoms_moved": int((moved > MOVED).sum()),
            "time_ps": t,
            "dwell_ps": dwell,
            "temperature": self.spec.temperature,
            "potential_sha256": self.potential_sha256,
        }


def write_worker_shards(
    segments: list[dict],
    transitions: list[dict],
    segments_out: str | Path,
    transitions_out: str | Path,
) -> None:
    write_rows(transitions, transitions_out, schema.TRANSITION_SHARD)
    write_rows(segments, segments_out, schema.SEGMENT_SHARD)
