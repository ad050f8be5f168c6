"""Reference MD for the trajectory surrogates: energy conservation, solid vs liquid Al
(diffusion), consistent units, and frames that survive the Parquet round trip."""

from __future__ import annotations

import numpy as np
import pytest

from hopformer.data import schema
from hopformer.data.shards import read_table, write_rows
from hopformer.physics.clusters import bulk_cell
from hopformer.physics.potentials import open_engine
from hopformer.surrogates.metrics import diffusion_coefficient, msd, unwrap
from hopformer.surrogates.runs import TrajectorySpec, frame_rows, run_reference

AMU_A2_PER_FS2_IN_EV = 1.66053906660e-27 * 1e-20 / 1e-30 / 1.602176634e-19  # 103.64


def _run(atoms, potential, spec):
    engine = open_engine(atoms, potential)
    try:
        return run_reference(engine, spec)
    finally:
        engine.close()


def test_nve_frames_conserve_energy_and_carry_consistent_velocities(al_potential, tmp_path):
    atoms = bulk_cell("Al", 2, 4.05)
    spec = TrajectorySpec(
        300.0, "nve", equilibrate_ps=0.5, length_ps=2.0, stride_fs=10.0, timestep_fs=1.0, seed=4
    )
    frames = _run(atoms, al_potential, spec)
    assert frames["positions"].shape == (spec.frames, 32, 3) == frames["velocities"].shape
    total = frames["potential_energy"] + frames["kinetic_energy"]
    assert np.ptp(total) / len(atoms) < 1e-4, "NVE: total energy within 0.1 meV/atom"
    ke = 0.5 * (atoms.get_masses()[:, None] * frames["velocities"] ** 2).sum((1, 2))
    np.testing.assert_allclose(ke * AMU_A2_PER_FS2_IN_EV, frames["kinetic_energy"], rtol=1e-6)
    frac = frames["positions"] @ np.linalg.inv(atoms.cell.array)
    assert frac.min() >= -1e-9 and frac.max() < 1 + 1e-9, "positions wrapped into the cell"

    rows = frame_rows(frames, spec, "bulk", atoms.numbers, atoms.cell.array, "sha")
    path = write_rows(rows, tmp_path / "frames.parquet", schema.TRAJECTORY_FRAMES)
    back = read_table(path, schema.TRAJECTORY_FRAMES).to_pylist()
    assert back[3]["run"] == "bulk-nve-T300-s4" and back[3]["time_fs"] == 30.0
    np.testing.assert_array_equal(
        np.reshape(back[3]["velocities"], (32, 3)), frames["velocities"][3]
    )


def test_liquid_al_diffuses_and_solid_al_does_not(al_potential):
    atoms = bulk_cell("Al", 3, 4.05)
    d = {}
    for temperature, melt in ((400.0, None), (1200.0, 2000.0)):
        spec = TrajectorySpec(
            temperature,
            "nve",
            equilibrate_ps=2.0,
            length_ps=6.0,
            stride_fs=10.0,
            melt_temperature=melt,
            melt_ps=4.0,
            seed=1,
        )
        x = unwrap(_run(atoms, al_potential, spec)["positions"], atoms.cell.array)
        d[temperature] = diffusion_coefficient(msd(x, max_lag=300), 10.0) * 0.1  # cm²/s
    assert abs(d[400.0]) < 1e-6, d
    # Liquid Al near 1000–1200 K: D ≈ 5–8e-5 cm²/s (quasi-elastic neutron scattering).
    assert 2e-5 < d[1200.0] < 2e-4, d


def test_a_bad_spec_is_named():
    with pytest.raises(ValueError, match="ensemble 'npt'"):
        TrajectorySpec(300.0, "npt")
    with pytest.raises(ValueError, match="multiple of timestep_fs"):
        TrajectorySpec(300.0, stride_fs=5.0, timestep_fs=2.0)
