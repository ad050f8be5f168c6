"""The one training loop: its schedule, and that a killed training of any model (here the
trajectory predictor, which had no checkpoints before the loop was shared) resumes to the
weights of an uninterrupted one, while a checkpoint of another set-up is ignored."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hopformer.ml.loop import ProgressBar, Schedule
from hopformer.surrogates.predictor import PredictorConfig
from hopformer.surrogates.training import SurrogateTraining, train_predictor


def test_warm_up_then_cosine_to_five_percent():
    s = Schedule(steps=100, learning_rate=1.0, warmup_steps=10)
    assert s.rate(0) == pytest.approx(0.1) and s.rate(9) == pytest.approx(1.0)
    assert s.rate(10) == pytest.approx(1.0)
    assert s.rate(55) == pytest.approx(0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert s.rate(100) == pytest.approx(0.05)
    with pytest.raises(ValueError, match="steps"):
        Schedule(steps=0, learning_rate=1.0)


def _runs():
    rng = np.random.default_rng(0)
    runs = []
    for _ in range(2):
        x0 = rng.normal(0, 1.5, (6, 3))
        v = rng.normal(0, 0.01, (6, 3))
        t = np.arange(12) * 5.0
        x = x0[None] + t[:, None, None] * v[None]
        runs.append(
            {
                "positions": x,
                "velocities": np.repeat(v[None], 12, 0),
                "numbers": np.full(6, 78),
                "cell": None,
                "time_fs": t,
                "temperature": 300.0,
                "timestep_fs": 1.0,
                "ensemble": "nve",
                "potential_energy": np.zeros(12),  # free atoms
            }
        )
    return runs


def test_a_killed_surrogate_training_resumes_to_the_same_weights(tmp_path, monkeypatch):
    config = PredictorConfig(horizon_fs=10.0, width=8, layers=1)
    settings = SurrogateTraining(steps=8, batch_size=2, checkpoint_every=3, seed=4)
    whole, _ = train_predictor(_runs(), config, 5.0, settings, tmp_path / "a", tmp_path / "a.csv")

    calls = {"n": 0}
    real = ProgressBar.update

    def die(self, step, *a, **k):
        calls["n"] += 1
        if step == 4:
            raise KeyboardInterrupt  # killed after the step-3 checkpoint
        return real(self, step, *a, **k)

    monkeypatch.setattr(ProgressBar, "update", die)
    with pytest.raises(KeyboardInterrupt):
        train_predictor(_runs(), config, 5.0, settings, tmp_path / "b", tmp_path / "b.csv")
    monkeypatch.undo()
    logs = []
    resumed, _ = train_predictor(
        _runs(), config, 5.0, settings, tmp_path / "b", tmp_path / "b.csv", log=logs.append
    )
    assert any("resuming" in m and "step 3" in m for m in logs), logs
    for (k, a), b in zip(whole.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), k
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()

    other = SurrogateTraining(steps=8, batch_size=2, checkpoint_every=3, seed=5)
    logs.clear()
    train_predictor(
        _runs(), config, 5.0, other, tmp_path / "b", tmp_path / "c.csv", log=logs.append
    )
    assert any("set aside" in m for m in logs), "a checkpoint of another seed is not resumed"
