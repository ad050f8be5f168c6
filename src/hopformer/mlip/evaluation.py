"""Judging the MLIP against the reference potential: errors on held-out
configurations, NEB barriers of validated transitions, an NVE run's stability and energy
conservation, and speed per atom and step beside EAM on the same machine."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch
from ase import Atoms, units

from hopformer.data import schema
from hopformer.data.shards import read_table
from hopformer.mlip.calculator import load_network
from hopformer.mlip.data import read_configs
from hopformer.mlip.training import Graphs, batch, energies, metrics
from hopformer.physics.clusters import bulk_cell
from hopformer.physics.engine import NVE, maxwell_boltzmann
from hopformer.physics.md import md_speed
from hopformer.physics.neb import run_neb
from hopformer.physics.potentials import open_engine
from hopformer.physics.relax import Relaxer
from hopformer.physics.structure import center_in_vacuum


def errors_by_source(model, configs: Sequence[dict]) -> dict:
    """Energy and force MAE/RMSE of ``configs`` overall and per source."""
    p = next(model.parameters())
    out = {"all": metrics(model, Graphs(configs, model.config.cutoff, p.dtype, p.device))}
    for source in sorted({c["source"] for c in configs}):
        subset = [c for c in configs if c["source"] == source]
        out[source] = metrics(model, Graphs(subset, model.config.cutoff, p.dtype, p.device))
    return out


def barriers(
    mlip: str,
    reference: str,
    transitions: Sequence[dict],
    images: int = 9,
    fmax: float = 0.05,
    steps: int = 1000,
    log=lambda m: None,
) -> list[dict]:
    """Each transition's barrier on the MLIP beside the reference's: both ends relaxed on
    the MLIP, one NEB band (no splitting), barrier = max − initial. An MLIP minimum counts as
    the same end when it lies in the reference state's basin (quenched on the reference
    potential it returns to that state; the two potentials' minima differ by more than the
    state-identity tolerance where the landscape is soft). ``transitions`` are VALIDATION rows
    with a reference barrier."""
    on_mlip, ref = Relaxer(mlip), Relaxer(reference)

    def in_basin(x_mlip: np.ndarray, x_ref: np.ndarray, numbers: np.ndarray) -> bool:
        back = ref.relax(x_mlip, numbers)
        return back.ok and ref.same(back.positions, x_ref, numbers)

    out = []
    try:
        for t in transitions:
            numbers = np.asarray(t["numbers"])
            n = len(numbers)
            x0 = np.reshape(t["initial_positions"], (n, 3))
            x1 = np.reshape(t["final_positions"], (n, 3))
            row = {
                "transition_id": t["transition_id"],
                "reference_barrier": t["barrier"],
                "reference_delta_energy": t["delta_energy"],
                "status": "ok",
                "mlip_barrier": None,
                "mlip_delta_energy": None,
                "barrier_error_mev": None,
            }
            start = time.perf_counter()
            a, b = on_mlip.relax(x0, numbers), on_mlip.relax(x1, numbers)
            if not (a.ok and b.ok):
                row["status"] = "end_not_relaxed"
            elif not (in_basin(a.positions, x0, numbers) and in_basin(b.positions, x1, numbers)):
                row["status"] = "end_moved"  # the MLIP's minimum is in another basin
            else:
                band = run_neb(
                    mlip, numbers, a.positions, b.positions, images=images, fmax=fmax, steps=steps
                )
                row["mlip_delta_energy"] = float(b.energy - a.energy)
                if band.status != "ok":
                    row["status"] = f"band_{band.status}"
                else:
                    row["mlip_barrier"] = float(band.barrier)
                    row["barrier_error_mev"] = (row["mlip_barrier"] - t["barrier"]) * 1e3
            row["seconds"] = time.perf_counter() - start
            log(
                f"{row['transition_id']}: {row['status']} EAM {t['barrier']:.4f} eV, "
                f"MLIP {row['mlip_barrier']}"
            )
            out.append(row)
    finally:
        on_mlip.close()
        ref.close()
    return out


def path_barriers(model, transitions: Sequence[dict]) -> dict:
    """The MLIP's barrier along each reference band, no relaxation: max − first of its
    energies on the band's images (``path_positions``) beside the reference's
    (``path_energies``). It isolates the energy profile from where the MLIP's own minima and
    saddle lie; :func:`barriers` judges both. ``transitions`` are VALIDATION rows, ok bands."""
    p = next(model.parameters())
    errs = []
    for t in transitions:
        n = len(t["numbers"])
        x = np.reshape(t["path_positions"], (-1, n, 3))
        configs = [
            {
                "positions": xi,
                "numbers": np.asarray(t["numbers"]),
                "cell": None,
                "energy": 0.0,
                "forces": np.zeros((n, 3)),
            }
            for xi in x
        ]
        with torch.no_grad():  # energies only: no force pass
            e = energies(
                model, batch(Graphs(configs, model.config.cutoff, p.dtype, p.device).items)
            )
        e = e.cpu().numpy()
        ref = np.asarray(t["path_energies"])
        errs.append(((e.max() - e[0]) - (ref.max() - ref[0])) * 1e3)
    a = np.abs(errs)
    return {
        "bands": len(errs),
        "mae_mev": float(a.mean()) if errs else None,
        "mean_error_mev": float(np.mean(errs)) if errs else None,
        "within_20_mev": int((a <= 20).sum()),
    }


def nve_stability(
    potential: str,
    atoms: Atoms,
    temperature: float,
    ps: float,
    timestep_fs: float = 2.0,
    seed: int = 1,
    every_fs: float = 100.0,
) -> dict:
    """NVE MD of ``atoms`` (thermalised at ``temperature``) for ``ps``: the total-energy drift
    and spread, the highest temperature, the closest approach, and whether it blew up."""
    if not atoms.pbc.any():
        atoms = center_in_vacuum(atoms, 10.0)
    engine = open_engine(atoms, potential)
    try:
        engine.thermalize(temperature, seed)
        steps = max(1, round(every_fs / timestep_fs))
        n = len(atoms)
        energies, temps, closest = [], [], []
        start = time.perf_counter()
        blew_up = False
        for _ in range(max(1, round(ps * 1000 / every_fs))):
            engine.run(steps, NVE(timestep_fs))
            ke = engine.kinetic_energy()
            energies.append(engine.energy() + ke)
            temps.append(2 * ke / (3 * n * units.kB))
            x = engine.get_positions()
            d = np.linalg.norm(x[:, None] - x[None], axis=-1) + np.eye(n) * 1e9
            closest.append(float(d.min()))
            if not np.isfinite(energies[-1]) or temps[-1] > 10 * temperature or closest[-1] < 1.0:
                blew_up = True
                break
        wall = time.perf_counter() - start
    finally:
        engine.close()
    e = np.array(energies)
    return {
        "simulated_ps": len(e) * every_fs / 1000,
        "blew_up": blew_up,
        "energy_drift_mev_atom": float((e[-1] - e[0]) / n * 1e3),
        "energy_spread_mev_atom": float(np.ptp(e) / n * 1e3),
        "max_temperature": float(max(temps)),
        "min_distance": float(min(closest)),
        "wall_s": wall,
    }


def speed(potential: str, atoms: Atoms, steps: int = 50, timestep_fs: float = 2.0) -> float:
    """µs per atom per MD step on ``potential`` (NVE from a 300 K start), this machine."""
    v = maxwell_boltzmann(atoms, 300.0, 1) * units.fs  # Å/fs
    cell = atoms.cell.array if atoms.pbc.all() else None
    per_ps = md_speed(
        potential, atoms.numbers, atoms.positions, v, cell, timestep_fs, steps * timestep_fs / 1000
    )
    return per_ps * timestep_fs / 1000 / len(atoms) * 1e6


def barrier_summary(found: Sequence[dict]) -> dict:
    """How :func:`barriers`' rows compare with the reference: transitions tried, compared,
    the MAE and largest error in meV, and how many lie within 20 meV."""
    errs = [abs(b["barrier_error_mev"]) for b in found if b["barrier_error_mev"] is not None]
    return {
        "transitions": len(found),
        "compared": len(errs),
        "mae_mev": float(np.mean(errs)) if errs else None,
        "max_abs_error_mev": float(max(errs)) if errs else None,
        "within_20_mev": int(sum(e <= 20 for e in errs)),
    }


def untrained_transitions(configs: Sequence[dict], validation: Sequence[str]) -> list[dict]:
    """The validated transitions (VALIDATION rows with an ok band) whose NEB images the MLIP
    never trained on: those whose band is in the val or test split first, then those not in
    the data at all, each group by transition id."""
    bands = [(c["group"][len("neb-") :], c["split"]) for c in configs if c["source"] == "neb"]
    held_out = {band for band, split in bands if split != "train"}
    trained = {band for band, split in bands if split == "train"}
    rows = [
        r
        for path in validation
        for r in read_table(path, schema.VALIDATION).to_pylist()
        if r["neb_status"] == "ok" and r["transition_id"] not in trained
    ]
    rows.sort(key=lambda r: (r["transition_id"] not in held_out, r["transition_id"]))
    return rows


def evaluate_mlip(
    model_path: str,
    data: str,
    potential: str,
    cluster: Atoms,
    validation: Sequence[str],
    temperature: float,
    md_ps: float,
    barrier_count: int,
    images: int,
    neb_fmax: float,
    bulk: tuple[str, str, float] | None = None,
    log=lambda m: None,
) -> tuple[dict, list[dict]]:
    """The whole judgement of a trained MLIP: (summary, one barrier row per compared
    transition). Test-split errors per source; barriers along the reference bands of every
    validated transition whose band it never trained on, and NEB barriers on the MLIP of
    ``barrier_count`` of them (held-out bands first); an NVE run beside the same run on the
    reference; speed per atom and step beside the reference, and on periodic ``bulk``
    (its EAM file, element, lattice constant) when given."""
    model = load_network(model_path)
    configs = read_configs(data)
    summary = {"test_errors": errors_by_source(model, [c for c in configs if c["split"] == "test"])}
    log(str(summary["test_errors"]["all"]))
    untrained = untrained_transitions(configs, validation)
    summary["path_barriers"] = path_barriers(model, untrained)
    rows = untrained[:barrier_count]
    found = barriers(model_path, potential, rows, fmax=neb_fmax, images=images, log=log)
    summary["barriers"] = barrier_summary(found)
    summary["nve"] = nve_stability(model_path, cluster, temperature, md_ps)
    summary["nve_reference"] = nve_stability(potential, cluster, temperature, md_ps)
    s = summary["speed_us_per_atom_step"] = {
        "mlip": speed(model_path, cluster),
        "eam": speed(potential, cluster),
    }
    if bulk is not None:
        bulk_potential, element, lattice_constant = bulk
        cell = bulk_cell(element, 3, lattice_constant)
        s["mlip_bulk"] = speed(model_path, cell)
        s["eam_bulk"] = speed(bulk_potential, cell)
    s["mlip_over_eam"] = s["mlip"] / s["eam"]
    return summary, found
