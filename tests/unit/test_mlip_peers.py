"""What the MLIP's comparison with MACE stands on: the compiled neighbour list finds exactly
the pairs a brute-force search over periodic images finds, one error formula for any model,
a peer potential registered at run time, and the peers table of the workflow."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
from ase import Atoms
from ase.calculators.emt import EMT

from hopformer.cli import main
from hopformer.mlip.peers import COLUMNS, peer_rows
from hopformer.mlip.training import error_metrics
from hopformer.physics import potentials
from hopformer.physics.structure import DENSE_ATOMS, neighbours


def brute_force(x, cell, cutoff):
    """Every (i, j, image) closer than ``cutoff``, by trying enough images."""
    if cell is None:
        shifts = [np.zeros(3)]
    else:
        heights = 1 / np.linalg.norm(np.linalg.inv(cell), axis=0)  # plane spacings
        reach = [int(np.ceil(cutoff / h)) + 1 for h in heights]
        shifts = [np.array(s, float) for s in itertools.product(*(range(-r, r + 1) for r in reach))]
    found = set()
    for s in shifts:
        offset = s @ cell if cell is not None else 0.0
        d = np.linalg.norm(x[None, :, :] + offset - x[:, None, :], axis=-1)
        for i, j in zip(*np.nonzero(d < cutoff), strict=True):
            if i != j or s.any():
                found.add((int(i), int(j), tuple(int(v) for v in s)))
    return found


@pytest.mark.parametrize("trial", range(12))
def test_neighbours_are_every_pair_within_the_cutoff_of_free_and_skewed_periodic_cells(trial):
    rng = np.random.default_rng(trial)
    n, cutoff = int(rng.integers(2, 40)), float(rng.uniform(2.5, 6.0))
    if trial % 2:
        cell = np.diag(rng.uniform(3.0, 9.0, 3))
        cell[1, 0], cell[2, 0], cell[2, 1] = rng.uniform(-1.5, 1.5, 3)  # skewed
        x = rng.uniform(-0.5, 1.5, (n, 3)) @ cell  # atoms outside the cell too
    else:
        cell, x = None, rng.uniform(0, 10, (n, 3))
    i, j, s = neighbours(x, cell, cutoff)
    got = {(int(a), int(b), tuple(int(v) for v in c)) for a, b, c in zip(i, j, s, strict=True)}
    assert got == brute_force(x, cell, cutoff)
    assert len(got) == len(i), "no pair twice"
    assert np.array_equal(s, np.round(s)) and i.dtype == j.dtype == np.int64
    keys = np.column_stack([i, j, s])
    assert (np.lexsort(keys.T[::-1]) == np.arange(len(i))).all(), "edges sorted by (i, j, S)"
    if cell is not None:  # r_ij is the image's displacement, whichever cell an atom sits in
        r = np.linalg.norm(x[j] - x[i] + s @ cell, axis=1)
        assert (r < cutoff).all()


def test_free_clusters_either_side_of_the_dense_search_size_get_the_same_sorted_pairs():
    """Up to ``DENSE_ATOMS`` atoms a free cluster is searched distance by distance, above it
    by the cell list: both give every pair within the cutoff, sorted by (i, j)."""
    rng = np.random.default_rng(7)
    x = rng.uniform(0, 18, (DENSE_ATOMS + 1, 3))  # two thirds of Pt's density
    for n in (DENSE_ATOMS, DENSE_ATOMS + 1):
        i, j, s = neighbours(x[:n], None, 5.0)
        got = {(int(a), int(b), (0, 0, 0)) for a, b in zip(i, j, strict=True)}
        assert got == brute_force(x[:n], None, 5.0) and len(got) == len(i) > 10 * n
        assert (np.lexsort((j, i)) == np.arange(len(i))).all() and not s.any()


def test_neighbours_of_a_cluster_blown_apart_are_found_without_a_cell_list_of_its_box():
    """A rollout that blew up spreads 55 atoms over 10⁴ Å: a cell list of that box would need
    ~10¹⁰ cells. The pairs that remain (three pairs placed close) are still found."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1e4, (55, 3))
    x[1], x[3], x[7] = x[0] + [2.0, 0, 0], x[2] + [0, 2.5, 0], x[6] + [0, 0, 3.9]
    i, j, s = neighbours(x, None, 4.0)
    got = {(int(a), int(b), (0, 0, 0)) for a, b in zip(i, j, strict=True)}
    assert got == brute_force(x, None, 4.0) and len(got) == 6
    assert (np.lexsort((j, i)) == np.arange(len(i))).all() and s.shape == (6, 3)


def test_neighbours_of_a_cell_smaller_than_the_cutoff_and_of_lone_atoms():
    cell = np.eye(3) * 2.5  # one atom: its own images are its neighbours
    i, j, s = neighbours(np.zeros((1, 3)), cell, 4.0)
    assert len(i) == len(brute_force(np.zeros((1, 3)), cell, 4.0)) > 6
    assert (i == 0).all() and (j == 0).all()
    i, j, s = neighbours(np.array([[0.0, 0, 0], [9.0, 0, 0]]), None, 3.0)
    assert i.shape == j.shape == (0,) and s.shape == (0, 3)


def test_error_metrics_are_per_atom_energies_and_per_component_forces():
    f_ref = np.zeros((10, 3))
    f = np.zeros((10, 3))
    f[0, 0], f[1, 1] = 0.03, -0.03  # 2 of 30 components off by 30 meV/Å
    m = error_metrics([(-9.99, f, -10.0, f_ref), (-20.02, f_ref, -20.0, f_ref)])
    assert m["configurations"] == 2
    assert m["energy_mae_mev_atom"] == pytest.approx(1.5)  # 1 and 2 meV/atom
    assert m["energy_rmse_mev_atom"] == pytest.approx(np.sqrt(2.5))
    assert m["force_mae_mev_a"] == pytest.approx(60 / 60)
    assert m["force_rmse_mev_a"] == pytest.approx(np.sqrt(2 * 900 / 60))
    assert error_metrics([]) == {"configurations": 0}


class _EmtPlugin:
    name = "EMT for a test"

    def matches(self, spec):
        return spec.endswith(".emt")

    def check(self, spec):
        pass

    def calculator(self, spec):
        return EMT()

    def engine(self, atoms, spec):
        raise NotImplementedError


def test_a_registered_peer_is_a_potential_after_the_installed_kinds(tmp_path):
    spec = tmp_path / "peer.emt"
    spec.write_text("")
    before = potentials.plugins()
    plugin = _EmtPlugin()
    potentials.register(plugin)
    potentials.register(plugin)  # twice is once
    assert potentials.plugins() == (*before, plugin)
    assert potentials.plugin_for(str(spec)) is plugin
    assert potentials.plugin_for(str(tmp_path / "model.pt")).name.startswith("hopformer MLIP")
    atoms = Atoms("Cu2", positions=[[0, 0, 0], [2.5, 0, 0]])
    atoms.calc = potentials.calculator(str(spec))
    assert atoms.get_potential_energy() == pytest.approx(
        Atoms(atoms, calculator=EMT()).get_potential_energy()
    )
    potentials._REGISTERED.remove(plugin)


def _errors(e, f, rmse):
    return {"all": {"energy_mae_mev_atom": e, "force_mae_mev_a": f, "force_rmse_mev_a": rmse}}


def bench_summary():
    model = {
        "test": _errors(3.0, 30.0, 50.0),
        "train_seconds": 900.0,
        "barriers": {"within_20_mev": 4, "compared": 5},
        **{f"call_ms_{s}_{t}t": 10.0 * t for s in ("Pt55", "Al108") for t in (1, 2)},
    }
    mace = {**model, "test": _errors(20.0, 35.0, 55.0), "call_ms_Pt55_1t": 70.0}
    return {"models": {"mlip-short": model, "mace-short": mace}}


def test_the_peers_table_holds_the_workflow_model_and_the_bench_models(tmp_path, capsys):
    evaluation = {
        "test_errors": _errors(1.75, 37.8, 69.3),
        "barriers": {"within_20_mev": 2, "compared": 3},
    }
    training = {"steps": 2000, "seconds_this_run": 300.0}
    alone = peer_rows(evaluation, training, None)
    assert len(alone) == 1 and alone[0]["model"].endswith("(2000 steps)")
    assert alone[0]["force_rmse_mev_a"] == 69.3 and np.isnan(alone[0]["pt55_call_ms_1t"])
    paths = {}
    for name, obj in (
        ("evaluation", evaluation),
        ("training", training),
        ("bench", bench_summary()),
    ):
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(json.dumps(obj))
    out = tmp_path / "peers.csv"
    main(
        [
            "mlip-peers",
            *[a for k, p in paths.items() for a in (f"--{k}", str(p))],
            "--out",
            str(out),
        ]
    )
    table = pd.read_csv(out)
    assert list(table.columns) == list(COLUMNS)
    assert list(table["trained_by"]) == ["train_mlip", *["bench/mlip_vs_mace.py"] * 2]
    mace = table.iloc[2]
    assert mace["model"].startswith("MACE") and mace["energy_mae_mev_atom"] == 20.0
    assert mace["pt55_call_ms_1t"] == 70.0 and mace["al108_call_ms_2t"] == 20.0
    assert mace["barriers_within_20_mev"] == 4
