"""Reference MD trajectories for the trajectory surrogates: the data they learn from
and the ground truth they are judged against.

One run = one system at one temperature and seed: seeded Maxwell–Boltzmann velocities,
``equilibrate_ps`` of Langevin MD (``melt_ps`` at ``melt_temperature`` first, for a liquid
started from a crystal), then ``length_ps`` in the chosen ensemble with a frame every
``stride_fs``. Frames hold positions (as the engine returns them: wrapped into a periodic
cell), velocities in Å/fs, and the potential and kinetic energies, so a surrogate's rollout
started from any frame can be compared with the reference from there on.

Systems: ``cluster`` — the campaign's relaxed cluster (free, no cell); ``bulk`` — a periodic
fcc supercell of ``cells``³ cubic cells of ``element`` at its lattice constant.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase import Atoms, units
from ase.io import read

from hopformer.data import schema
from hopformer.data.shards import read_table
from hopformer.physics.clusters import bulk_cell
from hopformer.physics.engine import NVE, Engine, Langevin
from hopformer.physics.htst import K_B
from hopformer.physics.structure import center_in_vacuum
from hopformer.streams import lammps_seed

ENSEMBLES = ("nve", "langevin")


@dataclass(frozen=True)
class TrajectorySpec:
    temperature: float
    ensemble: str = "nve"
    equilibrate_ps: float = 5.0
    length_ps: float = 20.0
    stride_fs: float = 10.0
    timestep_fs: float = 2.0
    damping_fs: float = 100.0
    melt_temperature: float | None = None
    melt_ps: float = 0.0
    seed: int = 1

    def __post_init__(self):
        if self.ensemble not in ENSEMBLES:
            raise ValueError(f"trajectory ensemble {self.ensemble!r}: expected one of {ENSEMBLES}")
        if self.temperature <= 0 or self.length_ps <= 0 or self.equilibrate_ps < 0:
            raise ValueError(f"trajectory: temperature and length_ps must be > 0 ({self})")
        steps = self.stride_fs / self.timestep_fs
        if self.stride_fs <= 0 or abs(steps - round(steps)) > 1e-9:
            raise ValueError(
                f"trajectory stride_fs {self.stride_fs} must be a positive multiple "
                f"of timestep_fs {self.timestep_fs}"
            )

    @property
    def stride_steps(self) -> int:
        return round(self.stride_fs / self.timestep_fs)

    @property
    def frames(self) -> int:
        """Frames recorded, the start of production included."""
        return int(round(self.length_ps * 1000 / self.stride_fs)) + 1


def run_reference(engine: Engine, spec: TrajectorySpec) -> dict[str, np.ndarray]:
    """Run ``spec`` on ``engine`` (positions already set) and return its frames:
    ``time_fs`` (F,), ``positions`` (F, N, 3) Å, ``velocities`` (F, N, 3) Å/fs,
    ``potential_energy`` and ``kinetic_energy`` (F,) eV."""
    ts = spec.timestep_fs
    seed = lammps_seed(spec.seed)
    engine.thermalize(spec.melt_temperature or spec.temperature, seed)
    if spec.melt_temperature and spec.melt_ps > 0:
        engine.run(
            _steps(spec.melt_ps, ts), Langevin(spec.melt_temperature, ts, spec.damping_fs, seed)
        )
    thermostat = Langevin(spec.temperature, ts, spec.damping_fs, seed)
    if spec.equilibrate_ps > 0:
        engine.run(_steps(spec.equilibrate_ps, ts), thermostat)
    integrator = NVE(ts) if spec.ensemble == "nve" else thermostat
    frames = {k: [] for k in ("positions", "velocities", "potential_energy", "kinetic_energy")}
    for i in range(spec.frames):
        if i:
            engine.run(spec.stride_steps, integrator)
        frames["positions"].append(engine.get_positions())
        frames["velocities"].append(engine.get_velocities() * units.fs)
        frames["kinetic_energy"].append(engine.kinetic_energy())
        frames["potential_energy"].append(engine.energy())
    out = {k: np.asarray(v) for k, v in frames.items()}
    out["time_fs"] = np.arange(spec.frames) * spec.stride_fs
    return out


def _steps(ps: float, timestep_fs: float) -> int:
    return int(round(ps * 1000 / timestep_fs))


def run_name(system: str, spec: TrajectorySpec) -> str:
    return f"{system}-{spec.ensemble}-T{spec.temperature:g}-s{spec.seed}"


def frame_rows(
    frames: dict[str, np.ndarray],
    spec: TrajectorySpec,
    system: str,
    numbers: np.ndarray,
    cell: np.ndarray | None,
    potential_sha256: str,
    name: str | None = None,
) -> list[dict]:
    """TRAJECTORY_FRAMES rows of one run (see :mod:`hopformer.data.schema`); ``name``
    defaults to :func:`run_name`."""
    name = name or run_name(system, spec)
    flat_cell = [] if cell is None else np.asarray(cell, dtype=float).ravel().tolist()
    return [
        {
            "run": name,
            "system": system,
            "ensemble": spec.ensemble,
            "temperature": spec.temperature,
            "seed": spec.seed,
            "frame": i,
            "time_fs": float(frames["time_fs"][i]),
            "timestep_fs": spec.timestep_fs,
            "numbers": numbers,
            "positions": frames["positions"][i],
            "velocities": frames["velocities"][i],
            "cell": flat_cell,
            "potential_energy": float(frames["potential_energy"][i]),
            "kinetic_energy": float(frames["kinetic_energy"][i]),
            "potential_sha256": potential_sha256,
        }
        for i in range(len(frames["time_fs"]))
    ]


def start_structure(
    system: str,
    structure: str | None = None,
    vacuum: float = 10.0,
    element: str = "Al",
    cells: int = 4,
    lattice_constant: float = 4.05,
) -> tuple[Atoms, np.ndarray | None]:
    """(atoms, cell or None) a run starts from: the relaxed ``structure`` file centred in
    ``vacuum`` (system ``cluster``), or the periodic fcc supercell (system ``bulk``)."""
    if system == "bulk":
        atoms = bulk_cell(element, cells, lattice_constant)
        return atoms, atoms.cell.array
    if system != "cluster":
        raise ValueError(f"system {system!r}: expected 'cluster' or 'bulk'")
    if not structure:
        raise ValueError("system 'cluster' needs the relaxed cluster's structure file")
    return center_in_vacuum(read(structure), vacuum), None


def run_report(frames: dict[str, np.ndarray], natoms: int) -> str:
    """Total-energy drift (meV/atom) and mean kinetic temperature (K) of a run's frames."""
    total = frames["potential_energy"] + frames["kinetic_energy"]
    drift = (total[-1] - total[0]) / natoms * 1e3
    mean_t = np.mean(frames["kinetic_energy"]) / (1.5 * natoms * K_B)
    return f"total energy drift {drift:.3f} meV/atom; mean T {mean_t:.1f} K"


def read_run(path, periodic: bool | None = None) -> dict:
    """One reference run's frames: positions, velocities (F, N, 3), numbers, cell (None for a
    free cluster), time_fs, total_energy (F,), temperature, timestep_fs, ensemble.
    ``periodic`` True or False refuses a run of the other kind."""
    rows = read_table(path, schema.TRAJECTORY_FRAMES).to_pylist()
    if len(rows) < 2:
        raise ValueError(f"{path}: a reference run needs at least 2 frames, found {len(rows)}")
    has_cell = bool(rows[0]["cell"])
    if periodic is not None and has_cell != periodic:
        raise ValueError(
            f"{path}: expected a {'periodic' if periodic else 'free-cluster'} run "
            f"(system {rows[0]['system']!r})"
        )
    n = len(rows[0]["numbers"])
    return {
        "positions": np.array([np.reshape(r["positions"], (n, 3)) for r in rows]),
        "velocities": np.array([np.reshape(r["velocities"], (n, 3)) for r in rows]),
        "numbers": np.asarray(rows[0]["numbers"], dtype=np.int64),
        "cell": np.reshape(rows[0]["cell"], (3, 3)) if has_cell else None,
        "time_fs": np.array([r["time_fs"] for r in rows]),
        "total_energy": np.array([r["potential_energy"] + r["kinetic_energy"] for r in rows]),
        "potential_energy": np.array([r["potential_energy"] for r in rows]),
        "temperature": rows[0]["temperature"],
        "timestep_fs": rows[0]["timestep_fs"],
        "ensemble": rows[0]["ensemble"],
    }
