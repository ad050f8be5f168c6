"""Training data for the MLIP: configurations sampled where the campaign goes,
labelled with the reference potential (energy and forces), as MLIP_DATA Parquet.

Sources (each a list of *groups* — one MD run or one band — so that the train/val/test split,
a hash of the group, never puts correlated frames of one run on both sides):

* ``splicing`` — minima the splicing MD visited (the dataset's states), each heated by a short
  Langevin run at the campaign temperature: the configurations the campaign's MD sees;
* ``hot`` — the same visited minima (the relaxed cluster when there are none) at hotter
  temperatures, one run each (rare, high-energy configurations). One run per start, not one
  per temperature, so that the seeded split has hot runs on both sides: with two groups, both
  once fell into the test split and no model trained on hot MD (docs/results.md);
* ``neb`` — every image of the validated NEB bands (near saddles, for barriers);
* ``bulk`` — a periodic fcc cell of the bulk element (own EAM) at several temperatures, solid
  and liquid, with its volume scaled by a few per cent (a periodic system with pressure).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from ase import Atoms

from hopformer.data import schema
from hopformer.data.shards import read_table, read_tables
from hopformer.physics.clusters import bulk_cell
from hopformer.physics.engine import Langevin
from hopformer.physics.potentials import open_engine, potential_id, score
from hopformer.physics.structure import center_in_vacuum

SOURCES = ("splicing", "hot", "neb", "bulk")


@dataclass(frozen=True)
class SamplingSpec:
    temperature: float = 700.0  # the campaign's, K
    hot_temperatures: tuple[float, ...] = (1000.0, 1400.0)
    states: int = 8  # visited minima heated (splicing source)
    frames: int = 10  # per run
    every_fs: float = 100.0
    timestep_fs: float = 2.0
    bulk_temperatures: tuple[float, ...] = (300.0, 900.0, 1500.0)
    bulk_cells: int = 2
    bulk_scales: tuple[float, ...] = (0.98, 1.0, 1.02)  # lattice-constant factors
    lattice_constant: float = 4.05
    bands: int = 40  # NEB bands at most
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    seed: int = 1

    def __post_init__(self):
        if self.frames < 1 or self.every_fs < self.timestep_fs or self.states < 0:
            raise ValueError(f"mlip data: frames ≥ 1, every_fs ≥ timestep_fs, states ≥ 0 ({self})")
        if not 0 <= self.val_fraction + self.test_fraction < 1:
            raise ValueError(
                f"mlip data: val_fraction + test_fraction must be in [0, 1) "
                f"({self.val_fraction} + {self.test_fraction})"
            )


def split_of(group: str, spec: SamplingSpec) -> str:
    """train / val / test of a group: a seeded hash, so adding groups moves none."""
    u = zlib.crc32(f"{spec.seed}/{group}".encode()) / 2**32
    if u < spec.test_fraction:
        return "test"
    return "val" if u < spec.test_fraction + spec.val_fraction else "train"


def _md_frames(
    potential: str, atoms: Atoms, temperature: float, spec: SamplingSpec, seed: int
) -> list[np.ndarray]:
    """``spec.frames`` configurations ``every_fs`` apart of Langevin MD from ``atoms``."""
    engine = open_engine(atoms, potential)
    try:
        engine.thermalize(temperature, seed)
        md = Langevin(temperature, spec.timestep_fs, 100.0, seed)
        steps = max(1, round(spec.every_fs / spec.timestep_fs))
        out = []
        for _ in range(spec.frames):
            engine.run(steps, md)
            out.append(engine.get_positions().copy())
        return out
    finally:
        engine.close()


Labelled = list[tuple[np.ndarray, float, np.ndarray]]


def label(
    potential: str,
    numbers: np.ndarray,
    configs: Iterable[np.ndarray],
    cell: np.ndarray | None = None,
) -> Labelled:
    """(positions, energy, forces) of each configuration on the reference potential."""
    configs = [np.asarray(c, float) for c in configs]
    return [
        (x, e, f)
        for x, (e, f) in zip(configs, score(potential, numbers, configs, cell), strict=True)
    ]


def _rows(
    source: str, group: str, numbers, labelled, cell, sha: str, spec: SamplingSpec
) -> list[dict]:
    split = split_of(group, spec)
    flat_cell = [] if cell is None else np.asarray(cell, float).ravel().tolist()
    return [
        {
            "config_id": f"{group}/{k}",
            "source": source,
            "group": group,
            "split": split,
            "numbers": np.asarray(numbers),
            "positions": x.ravel(),
            "cell": flat_cell,
            "energy": e,
            "forces": f.ravel(),
            "potential_sha256": sha,
        }
        for k, (x, e, f) in enumerate(labelled)
    ]


def cluster_rows(
    potential: str,
    cluster: Atoms,
    minima: Sequence[np.ndarray],
    bands: Sequence[tuple[str, np.ndarray]],
    spec: SamplingSpec,
    log=lambda m: None,
) -> list[dict]:
    """The ``splicing``, ``hot`` and ``neb`` rows of the campaign's cluster: ``minima`` are
    visited states' positions, ``bands`` (id, images × N × 3) validated NEB bands."""
    sha = potential_id(potential)
    numbers = cluster.numbers
    rows: list[dict] = []
    rng = np.random.default_rng(spec.seed)
    chosen = rng.choice(len(minima), size=min(spec.states, len(minima)), replace=False)
    for n, k in enumerate(sorted(chosen)):
        atoms = center_in_vacuum(Atoms(numbers=numbers, positions=minima[k]), 10.0)
        frames = [atoms.positions] + _md_frames(
            potential, atoms, spec.temperature, spec, spec.seed * 1000 + n + 1
        )
        rows += _rows(
            "splicing", f"splicing-{k}", numbers, label(potential, numbers, frames), None, sha, spec
        )
    log(f"splicing: {len(rows)} configurations from {len(chosen)} visited minima")
    starts = [(f"-{k}", minima[k]) for k in sorted(chosen)] or [("", cluster.positions)]
    hot = 0
    for n, t in enumerate(spec.hot_temperatures):
        for m, (name, x) in enumerate(starts):  # one run, one group, per start
            atoms = center_in_vacuum(Atoms(numbers=numbers, positions=x), 10.0)
            seed = spec.seed * 2000 + n * len(starts) + m + 1
            frames = label(potential, numbers, _md_frames(potential, atoms, t, spec, seed))
            rows += _rows("hot", f"hot-T{t:g}{name}", numbers, frames, None, sha, spec)
            hot += len(frames)
    log(f"hot: {hot} configurations, {len(starts)} starts × {len(spec.hot_temperatures)} T")
    for band_id, images in list(bands)[: spec.bands]:
        rows += _rows(
            "neb", f"neb-{band_id}", numbers, label(potential, numbers, images), None, sha, spec
        )
    log(f"cluster total: {len(rows)} configurations")
    return rows


def bulk_rows(potential: str, element: str, spec: SamplingSpec, log=lambda m: None) -> list[dict]:
    """The ``bulk`` rows: a periodic fcc cell at each temperature and lattice scale."""
    sha = potential_id(potential)
    rows: list[dict] = []
    n = 0
    for t in spec.bulk_temperatures:
        for scale in spec.bulk_scales:
            atoms = bulk_cell(element, spec.bulk_cells, spec.lattice_constant * scale)
            n += 1
            frames = _md_frames(potential, atoms, t, spec, spec.seed * 3000 + n)
            rows += _rows(
                "bulk",
                f"bulk-T{t:g}-a{scale:g}",
                atoms.numbers,
                label(potential, atoms.numbers, frames, atoms.cell.array),
                atoms.cell.array,
                sha,
                spec,
            )
    log(f"bulk: {len(rows)} configurations")
    return rows


def read_configs(path, split: str | None = None) -> list[dict]:
    """MLIP_DATA rows as arrays: numbers, positions (N, 3), cell (3, 3) or None, energy,
    forces (N, 3), plus source, group, split, config_id; only ``split`` if given."""
    out = []
    for r in read_table(path, schema.MLIP_DATA).to_pylist():
        if split is not None and r["split"] != split:
            continue
        n = len(r["numbers"])
        out.append(
            {
                **r,
                "numbers": np.asarray(r["numbers"], np.int64),
                "positions": np.reshape(r["positions"], (n, 3)),
                "forces": np.reshape(r["forces"], (n, 3)),
                "cell": np.reshape(r["cell"], (3, 3)) if r["cell"] else None,
            }
        )
    return out


def visited_minima(dataset: Sequence[str], natoms: int) -> list[np.ndarray]:
    """Every distinct minimum of the campaign's dataset splits (initial and final states), in
    state-id order."""
    minima: dict[int, np.ndarray] = {}
    for r in read_tables(dataset, schema.DATASET).to_pylist():
        for key, state in (
            ("initial_positions", r["initial_state"]),
            ("final_positions", r["final_state"]),
        ):
            minima.setdefault(state, np.reshape(r[key], (natoms, 3)))
    return [minima[k] for k in sorted(minima)]


def validated_bands(validation: Sequence[str], natoms: int) -> list[tuple[str, np.ndarray]]:
    """(transition id, band images (M, N, 3)) of every validated one-step transition."""
    bands = []
    for path in validation:
        for r in read_table(path, schema.VALIDATION).to_pylist():
            if r["neb_status"] == "ok":
                bands.append((r["transition_id"], np.reshape(r["path_positions"], (-1, natoms, 3))))
    return bands
