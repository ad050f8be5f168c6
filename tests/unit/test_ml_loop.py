"""The one training loop: its schedule, and that a killed training of any model (here the
trajectory predictor, which had no checkpoints before the loop was shared) resumes to the
weights of an uninterrupted one, while a checkpoint of another set-up is ignored."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hopformer.ml.loop import ProgressBar, Schedule, fit, seeded_init
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


def _fit_line(tmp_path, decay, die_at=None):
    """A straight line fitted by :func:`fit`; returns (model, the weights the evaluation hook
    saw after every step: the optimiser's own without averaging, else the average)."""
    model = seeded_init(0, lambda: torch.nn.Linear(1, 1))
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.linspace(-1, 1, 16)[:, None]
    seen = []

    def step_loss(step):
        if step == die_at:
            raise KeyboardInterrupt
        noise = torch.as_tensor(np.random.default_rng(step).normal(0, 0.3, (16, 1)), dtype=x.dtype)
        loss = ((model(x) - (2 * x + 1 + noise)) ** 2).mean()
        loss.backward()
        return float(loss.detach()), {"loss": float(loss.detach())}

    def hook(step):
        seen.append([p.detach().clone() for p in model.parameters()])
        return {}

    fit(
        model,
        optimiser,
        Schedule(steps=12, learning_rate=0.1, checkpoint_every=4, average_decay=decay),
        step_loss,
        fp="line",
        checkpoint_dir=tmp_path,
        loss_log=None,
        columns=("step", "loss"),
        evaluate=hook,
        log=lambda m: None,
    )
    return model, seen


def test_the_moving_average_is_what_the_model_ends_with_and_what_the_hook_sees(tmp_path):
    """Without averaging, the raw weights of every step; with it, the model ends with the
    exponential average of exactly those weights (decay min(0.9, (1 + s)/(10 + s)) at step s,
    from the initial weights), the hook judges the average at each step, and a run killed
    after a checkpoint resumes to the same average."""
    _, raw = _fit_line(tmp_path / "raw", decay=0.0)
    start = [p.detach().clone() for p in seeded_init(0, lambda: torch.nn.Linear(1, 1)).parameters()]
    expected, hooked = [t.clone() for t in start], []
    for s, weights in enumerate(raw):
        d = min(0.9, (1 + s) / (10 + s))
        expected = [a * d + (1 - d) * w for a, w in zip(expected, weights, strict=True)]
        hooked.append([t.clone() for t in expected])
    averaged, seen = _fit_line(tmp_path / "avg", decay=0.9)
    for a, e in zip(averaged.parameters(), expected, strict=True):
        torch.testing.assert_close(a.detach(), e)
    assert not torch.allclose(expected[0], raw[-1][0]), "the average differs from the last step"
    for got, want in zip(seen, hooked, strict=True):
        for a, e in zip(got, want, strict=True):
            torch.testing.assert_close(a, e)

    with pytest.raises(KeyboardInterrupt):
        _fit_line(tmp_path / "killed", decay=0.9, die_at=6)  # after the step-4 checkpoint
    resumed, _ = _fit_line(tmp_path / "killed", decay=0.9)
    for a, b in zip(resumed.parameters(), averaged.parameters(), strict=True):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="average decay"):
        Schedule(steps=1, learning_rate=1.0, average_decay=1.0)
