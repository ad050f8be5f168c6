"""One event-search job on a real cluster: an adatom on a Pt38 truncated octahedron, the
displacement and dimer finders, the Zhou EAM in LAMMPS."""

from __future__ import annotations

import numpy as np
import pytest

from hopformer.kinetics.finders import FinderConfig, epicentres
from hopformer.kinetics.search import Known, SearchJob, search_state
from hopformer.physics.clusters import add_adatoms, build_cluster
from hopformer.physics.engine import force_calls
from hopformer.physics.relax import Relaxer
from hopformer.validation.pair import ValidationConfig


@pytest.fixture(scope="module")
def adatom_state(pt_potential):
    atoms = add_adatoms(build_cluster("Pt", "truncated_octahedron", length=4, cutoff=1), 1, seed=3)
    relaxer = Relaxer(pt_potential)
    res = relaxer.relax(atoms.positions, atoms.numbers)
    assert res.ok and len(atoms) == 39
    job = SearchJob(0, 0, 0, atoms.numbers, res.positions, res.energy, seed=11)
    yield job, relaxer
    relaxer.close()


def _search(job, relaxer, known=(), finders=("displacement",), proposals=12):
    config = FinderConfig(proposals=proposals, dimer_steps=200)
    validation = ValidationConfig(neb_steps=400)
    return search_state(job, known, finders, relaxer, config, validation)


def test_an_adatom_search_finds_validated_hops_and_counts_its_force_calls(adatom_state):
    job, relaxer = adatom_state
    calls0 = force_calls()
    events, (stats,) = _search(job, relaxer)
    assert stats["proposals"] == 12 and stats["force_calls"] == force_calls() - calls0
    assert stats["force_calls"] >= stats["validation_calls"] > 0
    new = [e for e in events if e["kind"] == "new"]
    assert len(new) >= stats["new_products"] >= 1  # a split path adds its first step too
    ok = [e for e in new if e["neb_status"] == "ok"]
    assert ok, [e["neb_detail"] for e in new]
    for e in ok:
        # A barrier is the saddle above the initial minimum and at least the energy change.
        assert e["barrier"] == pytest.approx(e["saddle_energy"] - job.energy, abs=1e-6)
        assert e["barrier"] >= max(0.0, e["delta_energy"]) - 1e-3
        assert 1e-3 < e["prefactor_thz"] < 1e3
    # Products are distinct minima, none of them the initial state.
    finals = [np.reshape(e["final_positions"], (-1, 3)) for e in new]
    for i, a in enumerate(finals):
        assert not relaxer.same(job.positions, a, job.numbers)
        assert not any(relaxer.same(a, b, job.numbers) for b in finals[i + 1 :])


def test_a_search_repeats_itself_and_known_products_cost_no_validation(adatom_state):
    job, relaxer = adatom_state
    events, stats = _search(job, relaxer)
    again, _ = _search(job, relaxer)
    # Same seed, same state: the same proposals and products.
    assert _plain(again) == _plain(events)
    known = [
        Known(i, np.reshape(e["final_positions"], (-1, 3)), e["final_energy"])
        for i, e in enumerate(events)
    ]
    repeat, (rstats,) = _search(job, relaxer, known)
    assert rstats["new_products"] == 0 and rstats["validation_calls"] == 0
    assert rstats["repeats"] == stats[0]["repeats"] + stats[0]["new_products"]
    assert all(e["kind"] == "repeat" for e in repeat)


def test_the_dimer_finder_returns_products_connected_to_the_state(adatom_state):
    job, relaxer = adatom_state
    events, (first, stats) = _search(job, relaxer, finders=("displacement", "dimer"), proposals=4)
    assert (first["finder"], stats["finder"]) == ("displacement", "dimer")
    outcomes = ("no_proposal", "rejected", "back_to_initial", "repeats", "new_products")
    assert stats["proposals"] == 4 == sum(stats[k] for k in outcomes)
    assert stats["force_calls"] > 4 * 10  # a dimer search is tens of force calls at least
    for e in events:  # a product of a saddle connected to the state, never the state itself
        final = np.reshape(e["final_positions"], (-1, 3))
        assert not relaxer.same(job.positions, final, job.numbers)


def _plain(rows):
    return [{k: np.asarray(v).tolist() for k, v in r.items()} for r in rows]


def test_epicentres_favour_the_least_coordinated_atoms_when_biased(adatom_state):
    job, _ = adatom_state
    adatom = len(job.numbers) - 1  # add_adatoms appends it
    counts = {}
    for bias in (0.0, 1.0):
        picks = epicentres(job.positions, 400, np.random.default_rng(5), bias)
        counts[bias] = sum(p is not None and p[0] == adatom for p in picks) / len(picks)
    # Uniform: about 1 of the 33 surface atoms; biased (3 neighbours against 6–9): ~half.
    assert counts[0.0] < 0.15 and counts[1.0] > 0.3, counts
