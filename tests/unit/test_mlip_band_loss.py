"""The MLIP's band term (docs/design.md §12): the error of energy differences along an NEB
band. It equals its formula and ignores any constant offset of the model on a band; trained
alone, it fits a band's energy profile on the reference potential (an atom pulled off a Pt55
vertex: 1.3 eV rms of profile error at the start, about 0.02 eV after 150 steps)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_mlip import training_moves

from hopformer.mlip.calculator import load_network
from hopformer.mlip.data import label
from hopformer.mlip.evaluation import path_barriers
from hopformer.mlip.model import MlipConfig
from hopformer.mlip.training import (
    B_UNIT,
    Graphs,
    MlipTrainConfig,
    band_term,
    batch,
    neb_bands,
    new_network,
    predict,
    train,
)
from hopformer.physics.clusters import build_cluster

SMALL = MlipConfig(cutoff=4.5, radial=6, width=16, heads=2, layers=1)


@pytest.fixture(scope="module")
def band(pt_potential):
    """Nine EAM-labelled images of a Pt55 vertex atom pulled 1.6 Å outward: a profile that
    rises by about an eV, as MLIP_DATA configurations of one NEB group."""
    atoms = build_cluster("Pt", "icosahedron", shells=3, lattice_constant=3.92)
    x0 = atoms.positions - atoms.positions.mean(0)
    vertex = int(np.argmax(np.linalg.norm(x0, axis=1)))
    out = x0[vertex] / np.linalg.norm(x0[vertex])
    images = []
    for s in np.linspace(0.0, 1.6, 9):
        x = x0.copy()
        x[vertex] += s * out
        images.append(x)
    labelled = label(str(pt_potential), atoms.numbers, images)
    return [
        {
            "positions": x,
            "numbers": atoms.numbers,
            "cell": None,
            "energy": e,
            "forces": f,
            "source": "neb",
            "group": "neb-pull",
            "config_id": f"neb-pull/{k}",
        }
        for k, (x, e, f) in enumerate(labelled)
    ]


def profile_error(model, configs) -> float:
    """rms over the images of the centred total-energy error (eV): the band term's residual."""
    graphs = Graphs(configs, model.config.cutoff, torch.float64, "cpu")
    e, _ = predict(model, batch(graphs.items), False)
    r = e.detach().numpy() - np.array([c["energy"] for c in configs])
    return float(np.sqrt(np.mean((r - r.mean()) ** 2)))


def test_the_band_term_is_its_formula_and_blind_to_a_constant_offset(band):
    model = new_network(SMALL, MlipTrainConfig(float64=True), band)
    graphs = Graphs(band, SMALL.cutoff, torch.float64, "cpu")
    b = batch(graphs.items)
    e, _ = predict(model, b, False)
    r = e.detach().numpy() - np.array([c["energy"] for c in band])
    expected = np.mean(((r - r.mean()) / B_UNIT) ** 2)
    assert band_term(model, b).item() == pytest.approx(expected, rel=1e-10)
    assert expected > 1.0, "an untrained model misses a 1 eV profile by more than 20 meV"
    shifted = list(b)
    shifted[7] = b[7] + 12.345  # every image's reference energy moved alike
    assert band_term(model, shifted).item() == pytest.approx(expected, rel=1e-9)
    shifted[7] = b[7] + torch.linspace(0.0, 0.1, len(band), dtype=torch.float64)
    assert band_term(model, shifted).item() != pytest.approx(expected, rel=1e-3)


def test_bands_are_grouped_by_their_neb_group_and_singletons_dropped(band):
    other = [dict(c, group="neb-other") for c in band[:3]]
    lone = [dict(band[0], group="neb-lone")]
    md = [dict(c, source="hot", group="hot-0") for c in band[:4]]
    unnamed = [  # no group: the config id's prefix names the band
        {**{k: v for k, v in c.items() if k != "group"}, "config_id": f"neb-anon/{i}"}
        for i, c in enumerate(band[:2])
    ]
    configs = md + band + lone + other + unnamed
    groups = neb_bands(configs)
    assert sorted(len(g) for g in groups) == [2, 3, 9]
    for g in groups:
        assert len({configs[k].get("group", configs[k]["config_id"][:8]) for k in g}) == 1
        assert all(configs[k]["source"] == "neb" for k in g)


def test_the_band_term_alone_fits_a_bands_energy_profile(band, tmp_path):
    """Only the band term in the loss (energy weights, the last steps' too, and the force
    weight 0): the centred profile error
    falls well below its start; with the band weight 0 as well, no parameter moves."""
    start = new_network(SMALL, MlipTrainConfig(float64=True), band)
    before = profile_error(start, band)

    def trained(weight: float):
        cfg = MlipTrainConfig(
            steps=150,
            batch_size=2,
            energy_weight=0.0,
            final_energy_weight=0.0,
            force_weight=0.0,
            band_weight=weight,
            learning_rate=5e-3,
            eval_every=150,
            float64=True,
        )
        d = tmp_path / str(weight)
        train(band, [], SMALL, cfg, d / "m.pt", d / "l.csv", d / "c", log=lambda m: None)
        return load_network(d / "m.pt", torch.float64)

    fitted = trained(1.0)
    assert profile_error(fitted, band) < 0.1 * before, (before, profile_error(fitted, band))
    still = trained(0.0)
    for k, v in start.state_dict().items():
        assert torch.equal(still.state_dict()[k], v), k


def test_band_images_below_two_are_refused():
    with pytest.raises(ValueError, match="band_images"):
        MlipTrainConfig(band_images=1)


def test_path_barriers_compare_max_minus_first_along_the_reference_images(band):
    """Bands labelled with the model's own energies have no error; raising the reference's
    highest image by 30 meV makes the model's barrier 30 meV low, lowering the first image by
    10 meV makes it 10 meV low."""
    model = new_network(SMALL, MlipTrainConfig(float64=True), band)
    graphs = Graphs(band, SMALL.cutoff, torch.float64, "cpu")
    own = predict(model, batch(graphs.items), False)[0].detach().numpy()
    row = {
        "numbers": band[0]["numbers"],
        "path_positions": np.concatenate([c["positions"].ravel() for c in band]),
        "path_energies": own - own[0],
    }
    assert path_barriers(model, [row])["mae_mev"] == pytest.approx(0.0, abs=1e-6)
    top, first = row["path_energies"].copy(), row["path_energies"].copy()
    top[np.argmax(top)] += 0.030
    first[0] -= 0.010
    found = path_barriers(
        model, [row, dict(row, path_energies=top), dict(row, path_energies=first)]
    )
    assert found["bands"] == 3 and found["within_20_mev"] == 2
    assert found["mean_error_mev"] == pytest.approx(-40.0 / 3, abs=1e-6)
    assert found["mae_mev"] == pytest.approx(40.0 / 3, abs=1e-6)


def test_the_last_steps_weigh_the_energies_by_their_own_weight(band, tmp_path):
    """``final_fraction`` of the steps, counted from the end, use ``final_energy_weight``: with
    every other weight 0 the parameters move only when that stage exists."""
    cfg = MlipTrainConfig(steps=10, final_fraction=0.3, final_energy_weight=0.5)
    assert [cfg.at_step(s).energy_weight for s in (0, 6, 7, 9)] == [0.01, 0.01, 0.5, 0.5]
    assert MlipTrainConfig(steps=10, final_fraction=0.0).at_step(9).energy_weight == 0.01
    with pytest.raises(ValueError, match="final_fraction"):
        MlipTrainConfig(final_fraction=1.5)

    def moved(fraction: float) -> bool:
        cfg = MlipTrainConfig(
            steps=4,
            batch_size=2,
            energy_weight=0.0,
            force_weight=0.0,
            band_weight=0.0,
            final_fraction=fraction,
            final_energy_weight=1.0,
            eval_every=4,
            float64=True,
        )
        return training_moves(band, SMALL, cfg, tmp_path / str(fraction))

    assert moved(0.5) and not moved(0.0)
