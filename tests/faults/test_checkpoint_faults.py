"""Checkpoints of the one training loop (hopformer.ml.loop): a bad or foreign checkpoint is
named and set aside — never used, never overwritten — and a training given more steps
continues where it stopped. A least-squares toy trains through the same ``fit`` as every
model of the project."""

from __future__ import annotations

import pickle
import tempfile
from pathlib import Path

import torch

from hopformer.ml.loop import Schedule, fingerprint, fit

PAYLOAD = Path(tempfile.gettempdir()) / "hopformer-fault-suite-checkpoint-payload-ran"


def _train(folder: Path, steps: int, seed: int = 0, stop_at: int | None = None):
    """Fit y = 3x + 1 for ``steps`` (checkpoint every 2); ``stop_at`` raises there, as a kill
    would stop it. Returns (model, log lines, loss rows)."""
    torch.manual_seed(0)
    model = torch.nn.Linear(1, 1)
    optimiser = torch.optim.Adam(model.parameters(), lr=0.05)
    x = torch.linspace(-1, 1, 16)[:, None]

    def step_loss(step):
        if step == stop_at:
            raise KeyboardInterrupt("killed")
        g = torch.Generator().manual_seed(seed * 1000 + step)
        idx = torch.randint(0, 16, (4,), generator=g)
        loss = ((model(x[idx]) - (3 * x[idx] + 1)) ** 2).mean()
        loss.backward()
        return loss.item(), {"loss": loss.item()}

    logs: list[str] = []
    fp = fingerprint({"seed": seed, "steps": steps, "lr": 0.05})
    try:
        _, rows = fit(
            model,
            optimiser,
            Schedule(steps=steps, learning_rate=0.05, checkpoint_every=2),
            step_loss,
            fp=fp,
            checkpoint_dir=folder,
            loss_log=folder / "loss.csv",
            columns=["step", "loss"],
            log=logs.append,
        )
    except KeyboardInterrupt:
        rows = None
    return model, logs, rows


def _weights(model):
    return [p.detach().clone() for p in model.parameters()]


def test_a_killed_training_resumes_to_the_weights_of_an_uninterrupted_one(tmp_path):
    whole, _, rows = _train(tmp_path / "a", 8)
    _train(tmp_path / "b", 8, stop_at=5)
    resumed, logs, rows_b = _train(tmp_path / "b", 8)
    assert any("resuming from" in m and "at step 4" in m for m in logs), logs
    assert all(torch.equal(a, b) for a, b in zip(_weights(whole), _weights(resumed), strict=True))
    assert rows == rows_b


def _set_aside_and_retrained(folder: Path, bad: bytes, why: str):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "last.pt").write_bytes(bad)
    model, logs, rows = _train(folder, 6)
    aside = folder / "last.pt.set-aside-1"
    assert aside.read_bytes() == bad, "the bad checkpoint is kept, renamed, not overwritten"
    assert any(f"set aside {folder / 'last.pt'}" in m and why in m for m in logs), logs
    assert len(rows) == 6 and rows[0]["step"] == 0, "it trains from step 0"
    fresh, _, _ = _train(folder.parent / "fresh", 6)
    assert all(torch.equal(a, b) for a, b in zip(_weights(fresh), _weights(model), strict=True))


def test_a_corrupt_checkpoint_is_set_aside_and_training_starts_over(tmp_path):
    _set_aside_and_retrained(tmp_path / "c", b"\x00not a checkpoint" * 50, "not a readable")


def test_a_truncated_checkpoint_is_set_aside(tmp_path):
    _train(tmp_path / "t", 4)
    blob = (tmp_path / "t/last.pt").read_bytes()
    _set_aside_and_retrained(tmp_path / "t2", blob[: len(blob) // 2], "not a readable")


def test_a_checkpoint_with_a_pickle_payload_is_refused_and_never_runs(tmp_path):
    class Payload:
        def __reduce__(self):
            return (open, (str(PAYLOAD), "w"))

    _set_aside_and_retrained(tmp_path / "p", pickle.dumps(Payload(), protocol=2), "not a readable")
    assert not PAYLOAD.exists()


def test_a_checkpoint_of_another_setup_is_set_aside_not_overwritten(tmp_path):
    _train(tmp_path / "o", 4, seed=7)
    foreign = (tmp_path / "o/last.pt").read_bytes()
    _set_aside_and_retrained(tmp_path / "o", foreign, "different model, training config")


def test_more_steps_continue_a_finished_training(tmp_path):
    _, _, first = _train(tmp_path / "x", 6)
    _, logs, rows = _train(tmp_path / "x", 10)
    assert any("resuming from" in m and "at step 6" in m for m in logs), logs
    assert rows[:6] == first and [r["step"] for r in rows] == list(range(10))
    assert not list((tmp_path / "x").glob("*.set-aside-*"))


def test_fewer_steps_than_a_checkpoint_ran_set_it_aside(tmp_path):
    _train(tmp_path / "y", 8)
    ran = (tmp_path / "y/last.pt").read_bytes()
    _, logs, rows = _train(tmp_path / "y", 4)
    assert (tmp_path / "y/last.pt.set-aside-1").read_bytes() == ran
    assert any("ran 8 steps, more than the 4 asked for" in m for m in logs), logs
    assert len(rows) == 4
