"""The transformer's calibrated move length: candidates move as far as the true transitions
(docs/design.md §6), the loss never sees the factor, and older model files decode as before."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hopformer.transformer.examples import collate, example_batch, top_k_atoms
from hopformer.transformer.network import SCALE_BUCKETS, ModelConfig, scale_bucket
from hopformer.transformer.training import SCALE_RANGE, calibrate_moves, new_model

SMALL = ModelConfig(d_model=32, heads=2, encoder_layers=1, decoder_layers=1, components=2)


@pytest.fixture(scope="module")
def examples(pt55_examples):
    return pt55_examples


def _median_move_ratio(model, examples, k):
    """Median over ``examples`` of ‖mode candidate − initial‖ / ‖final − initial‖, free atoms."""
    batch, _ = example_batch(examples, [k] * len(examples), 256)
    cand = model.sample(batch, mode=True)[:, 0].numpy()
    ratios = []
    for ex, x in zip(examples, cand, strict=True):
        free = np.ones(ex.natoms, dtype=bool)
        free[top_k_atoms(ex, k)] = False
        move = x[: ex.natoms][free] - ex.initial[free]
        ratios.append(np.linalg.norm(move) / np.linalg.norm((ex.final - ex.initial)[free]))
    return float(np.median(ratios))


def test_hint_sizes_fall_into_power_of_two_buckets():
    k = torch.tensor([0, 1, 2, 3, 4, 7, 8, 27, 73, 128, 1000])
    assert scale_bucket(k).tolist() == [0, 1, 2, 2, 3, 3, 4, 5, 7, 8, SCALE_BUCKETS - 1]


def test_calibrated_candidates_move_the_true_distance_in_the_median(examples):
    model = new_model(SMALL, seed=5).eval()
    with torch.no_grad():  # an untrained head overshoots ~2×; bring its moves within range
        model.out_scale.fill_(0.035)
    ks = (0, 1, 2, 4, 16)
    before = {k: _median_move_ratio(model, examples, k) for k in ks}
    assert all(1 / SCALE_RANGE[1] < r < 1 / SCALE_RANGE[0] for r in before.values()), before
    assert len({round(r, 3) for r in before.values()}) > 1  # the buckets need factors of their own
    batch, target = example_batch(examples, [1] * len(examples), 256)
    loss_before = model.loss(batch, target)[0]

    scales = calibrate_moves(model, examples, batch_size=4)

    for k in ks:
        assert _median_move_ratio(model, examples, k) == pytest.approx(1.0, rel=1e-4), k
        assert scales[int(scale_bucket(torch.tensor(k)))] == pytest.approx(1 / before[k], rel=1e-4)
    # Pt55's hints stop at k = 27 (bucket 5): larger buckets take that bucket's factor.
    assert scales[6:] == [scales[5]] * (SCALE_BUCKETS - 6)
    assert model.move_scale.tolist() == pytest.approx(scales)
    assert torch.equal(model.loss(batch, target)[0], loss_before)


def test_a_factor_out_of_range_is_bounded_and_no_data_changes_nothing(examples):
    model = new_model(SMALL, seed=5).eval()
    with torch.no_grad():
        model.out_scale.fill_(1e-5)  # moves ~10⁻⁴ of the true ones
    assert calibrate_moves(model, examples) == [SCALE_RANGE[1]] * SCALE_BUCKETS
    # No val split (or a fine-tuning without one): the factors the model had stay.
    assert calibrate_moves(model, []) == [SCALE_RANGE[1]] * SCALE_BUCKETS
    assert new_model(SMALL, seed=5).move_scale.tolist() == [1.0] * SCALE_BUCKETS


def test_draws_move_linearly_with_the_factor_and_hints_stay_exact(examples):
    ex = examples[0]
    atoms = top_k_atoms(ex, 2)
    batch = collate([(ex.numbers, ex.initial)], [(atoms, ex.final[atoms])], 256)
    model = new_model(SMALL, seed=5).eval()
    draws = []
    for factor in (1.0, 2.0, 3.0):
        model.move_scale.fill_(factor)
        gen = torch.Generator().manual_seed(7)
        draws.append(model.sample(batch, samples=3, generator=gen)[0].numpy())
    step = draws[1] - draws[0]
    assert np.allclose(draws[2] - draws[1], step, atol=1e-5)  # same noise, mean move × factor
    free = np.setdiff1d(np.arange(ex.natoms), atoms)
    assert np.abs(step[:, free]).max() > 1e-3
    for d in draws:
        assert np.array_equal(d[:, atoms], np.broadcast_to(ex.final[atoms], (3, len(atoms), 3)))


def test_weights_written_before_the_calibration_load_as_the_bare_mixture():
    old = new_model(SMALL, seed=5).state_dict()
    del old["move_scale"]
    model = new_model(SMALL, seed=6)
    model.move_scale.fill_(2.0)
    model.load_state_dict(old)
    assert model.move_scale.tolist() == [1.0] * SCALE_BUCKETS
