"""The transition transformer: masking, hints, seeded sampling, symmetry, learning, resuming."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from hopformer.data import schema
from hopformer.data.shards import write_rows
from hopformer.physics.clusters import build_cluster
from hopformer.physics.relax import Relaxer
from hopformer.transformer.evaluation import accuracy, surface_hint
from hopformer.transformer.examples import collate, hint_sizes, read_examples, top_k_atoms
from hopformer.transformer.network import NEG, ModelConfig
from hopformer.transformer.training import TrainConfig, load_model, new_model, train

SMALL = ModelConfig(d_model=32, heads=2, encoder_layers=1, decoder_layers=1, components=2)


@pytest.fixture(scope="module")
def examples(pt55_examples):
    return pt55_examples


@pytest.fixture(scope="module")
def model():
    return new_model(SMALL, seed=5).eval()


@pytest.fixture(scope="module")
def pt13():
    atoms = build_cluster("Pt", "icosahedron", shells=2, lattice_constant=3.92)
    x = atoms.positions - atoms.positions.mean(0)
    return atoms.numbers, x + np.random.default_rng(0).normal(0, 0.05, x.shape)


def test_hint_sizes_follow_the_protocol():
    assert hint_sizes(55) == [0, 1, 2, 4, 8, 16, 27]
    assert hint_sizes(147) == [0, 1, 2, 4, 8, 16, 32, 64, 73]


def test_top_k_hint_is_the_most_displaced_atoms(examples):
    ex = examples[0]
    d = ex.displacements()
    atoms = top_k_atoms(ex, 4)
    assert len(atoms) == 4 and d[atoms].min() >= np.delete(d, atoms).max()


def test_batch_shapes_and_padding_with_and_without_hints(model, examples, pt13):
    ex = examples[0]
    atoms = top_k_atoms(ex, 2)
    small_numbers, small_x = pt13
    for hints in (
        [(atoms, ex.final[atoms]), (np.array([3]), small_x[3:4] + 0.5)],
        [(np.zeros(0, int), np.zeros((0, 3))), (np.zeros(0, int), np.zeros((0, 3)))],
    ):
        batch = collate([(ex.numbers, ex.initial), (small_numbers, small_x)], hints, 256)
        assert batch.positions.shape == (2, 55, 3) and batch.atom_mask.sum() == 55 + 13
        out = model.sample(batch, samples=3, generator=torch.Generator().manual_seed(0))
        assert out.shape == (2, 3, 55, 3) and out.dtype == torch.float64
        assert torch.all(out[1, :, 13:] == 0), "padding rows are zero"
        # The padded small cluster gets exactly what it gets alone, whatever sits in the padding.
        alone = collate([(small_numbers, small_x)], hints[1:], 256)
        batch.positions[1, 13:] = 7.0
        both = model.sample(batch, mode=True)
        assert torch.allclose(both[1, 0, :13], model.sample(alone, mode=True)[0, 0], atol=1e-5)
        logits = model.prepare(batch).focus_logits
        assert torch.all(logits[1, 13:] == NEG), "no focus on padding"
        assert torch.all(logits[batch.hint_mask] == NEG), "no focus on a hint atom"


def test_hint_atoms_come_out_exactly_at_their_given_positions(model, examples):
    ex = examples[1]
    atoms = top_k_atoms(ex, 4)
    batch = collate([(ex.numbers, ex.initial)], [(atoms, ex.final[atoms])], 256)
    for mode in (True, False):
        out = model.sample(batch, samples=4, generator=torch.Generator().manual_seed(1), mode=mode)
        assert np.array_equal(out[0, :, atoms].numpy(), np.broadcast_to(ex.final[atoms], (4, 4, 3)))
        free = np.setdiff1d(np.arange(ex.natoms), atoms)
        assert not np.allclose(out[0, :, free].numpy(), ex.final[free], atol=1e-3)


def test_sampling_is_seeded(model, examples):
    ex = examples[2]
    batch = collate([(ex.numbers, ex.initial)], [(np.zeros(0, int), np.zeros((0, 3)))], 256)

    def draw(seed):
        return model.sample(batch, samples=8, generator=torch.Generator().manual_seed(seed))

    a, b, c = draw(1), draw(1), draw(2)
    assert torch.equal(a, b)
    assert not torch.allclose(a, c, atol=1e-3)
    # One input yields distinct candidates, not copies.
    assert (a[0, 0] - a[0, 1]).norm() > 1e-3


def test_outputs_rotate_translate_and_permute_with_the_input(model, examples):
    ex = examples[3]
    atoms = top_k_atoms(ex, 2)
    batch = collate([(ex.numbers, ex.initial)], [(atoms, ex.final[atoms])], 256)
    ref = model.sample(batch, mode=True)[0, 0].numpy()
    q, _ = np.linalg.qr(np.random.default_rng(4).normal(size=(3, 3)))  # rotation or reflection
    shift = np.array([1.5, -2.0, 0.7])
    perm = np.random.default_rng(5).permutation(ex.natoms)
    inv = np.argsort(perm)
    moved = collate(
        [(ex.numbers[perm], ex.initial[perm] @ q + shift)],
        [(inv[atoms], ex.final[atoms] @ q + shift)],
        256,
    )
    out = model.sample(moved, mode=True)[0, 0].numpy()
    assert np.allclose(out, (ref @ q + shift)[perm], atol=2e-4)


def test_a_tiny_model_overfits_a_handful_of_transitions(examples, pt_potential, tmp_path):
    """Trained on four hops, its mode candidates relax to their true final states.

    The four are the first with an atom moving over 1 Å: sub-Å collective shifts end in basins
    so close together that a test-sized model does not separate them in seconds.
    """
    handful = [ex for ex in examples if ex.displacements().max() > 1.0][:4]
    assert len(handful) == 4
    cfg = TrainConfig(
        steps=1000,
        batch_size=4,
        learning_rate=3e-3,
        warmup_steps=20,
        zero_hint_fraction=0.5,
        checkpoint_every=1000,
        seed=3,
    )
    summary = train(
        handful,
        [],
        SMALL,
        cfg,
        tmp_path / "m.pt",
        tmp_path / "loss.csv",
        tmp_path / "ckpt",
        log=lambda m: None,
    )
    assert summary["completed"] and summary["final_train_loss"] < -3.0
    model = load_model(tmp_path / "m.pt")
    judge = Relaxer(pt_potential)
    rows, details = accuracy(model, judge, handful, ks=[0, 1, 2])
    judge.close()
    assert [r["k"] for r in rows] == [0, 1, 2]
    # A margin, not one machine's rounding: the mode candidate of a hop occasionally lands in
    # a neighbouring basin when the CPU's float kernels change (measured over 5 seeds and two
    # kernel sets, ATEN_CPU_CAPABILITY=avx2 / avx512: 1 miss in 60 trials, never 2 at one k).
    # Memorised means ≥ 3 of the 4 at every k and ≥ 10 of the 12 in all.
    hits = [round(r["accuracy"] * len(handful)) for r in rows]
    assert min(hits) >= 3 and sum(hits) >= 10, [(d["k"], d["model_status"]) for d in details]
    # Not free: relaxing the initial minimum alone (baseline at k = 0) never gets there.
    assert rows[0]["baseline_accuracy"] == 0.0


def _write_split(path, examples):
    rows = []
    for ex in examples:
        d = ex.displacements()
        rows.append(
            {
                "campaign": "t",
                "round": 0,
                "worker": 0,
                "segment": 0,
                "block": 0,
                "initial_key": "a",
                "final_key": "b",
                "numbers": ex.numbers,
                "initial_positions": ex.initial,
                "final_positions": ex.final,
                "initial_energy": 0.0,
                "final_energy": 0.0,
                "max_displacement": float(d.max()),
                "hyperdistance": float(np.linalg.norm(d)),
                "atoms_moved": ex.atoms_moved,
                "time_ps": 0.0,
                "dwell_ps": 0.0,
                "temperature": 900.0,
                "potential_sha256": "x",
                "initial_state": ex.initial_state,
                "final_state": ex.final_state,
                "count": 1,
                "split": "train",
            }
        )
    write_rows(rows, path, schema.DATASET)
    return path


def _loss_rows(path):
    return path.read_text().splitlines()


def test_training_killed_mid_run_resumes_and_continues_the_loss_curve(examples, tmp_path):
    train_file = _write_split(tmp_path / "train.parquet", examples[:4])
    val_file = _write_split(tmp_path / "val.parquet", examples[4:6])
    args = [
        "--d-model",
        "32",
        "--heads",
        "2",
        "--encoder-layers",
        "1",
        "--decoder-layers",
        "1",
        "--components",
        "2",
        "--steps",
        "120",
        "--batch-size",
        "2",
        "--warmup-steps",
        "5",
        "--checkpoint-every",
        "10",
        "--seed",
        "9",
        "--threads",
        "1",
        "--train",
        str(train_file),
        "--val",
        str(val_file),
        "--device",
        "cpu",
    ]

    def command(out):
        outputs = {
            "--out": "model.pt",
            "--loss-log": "loss.csv",
            "--summary": "summary.json",
            "--checkpoint-dir": "ckpt",
        }
        flags = [x for flag, name in outputs.items() for x in (flag, str(out / name))]
        return [sys.executable, "-m", "hopformer", "train-transformer", *args, *flags]

    whole, killed = tmp_path / "whole", tmp_path / "killed"
    subprocess.run(command(whole), check=True, capture_output=True)
    proc = subprocess.Popen(
        command(killed), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        log = killed / "loss.csv"
        if log.is_file() and len(_loss_rows(log)) > 30:  # ≥ 3 checkpoints written
            os.killpg(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.05)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "training ended before it could be killed"
    assert not (killed / "model.pt").exists()
    done_before = len(_loss_rows(killed / "loss.csv")) - 1
    resumed = subprocess.run(command(killed), check=True, capture_output=True, text=True)
    assert f"resuming from {killed / 'ckpt' / 'last.pt'} at step {done_before}" in resumed.stdout
    # Same batches, same optimiser state: the curve continues exactly where it stopped.
    assert _loss_rows(killed / "loss.csv") == _loss_rows(whole / "loss.csv")
    a, b = load_model(whole / "model.pt"), load_model(killed / "model.pt")
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(x, y), name


def test_a_checkpoint_of_another_config_is_not_resumed(examples, tmp_path):
    cfg = TrainConfig(steps=4, batch_size=2, checkpoint_every=2, seed=1)
    kw = dict(log=lambda m: None)
    train(examples[:4], [], SMALL, cfg, tmp_path / "a.pt", tmp_path / "a.csv", tmp_path / "c", **kw)
    lines = []
    other = TrainConfig(steps=4, batch_size=2, checkpoint_every=2, seed=2)
    summary = train(
        examples[:4],
        [],
        SMALL,
        other,
        tmp_path / "b.pt",
        tmp_path / "b.csv",
        tmp_path / "c",
        log=lines.append,
    )
    assert summary["resumed_at_step"] == 0
    assert any("set aside" in line for line in lines)


def test_read_examples_names_the_file_when_a_cluster_is_too_large(examples, tmp_path):
    path = _write_split(tmp_path / "big.parquet", examples[:1])
    with pytest.raises(ValueError, match=r"big\.parquet.*55 atoms.*max_atoms = 40"):
        read_examples(path, max_atoms=40)


def test_surface_hint_finds_an_empty_site_next_to_a_surface_atom(disordered_pt55):
    x = disordered_pt55.positions - disordered_pt55.positions.mean(0)
    rng = np.random.default_rng(0)
    for _ in range(10):
        atom, site = surface_hint(x, rng)
        others = np.delete(x, atom, axis=0)
        d = np.linalg.norm(others - site, axis=1)
        assert d.min() > 2.2, "the site is empty"
        assert (d < 3.5).sum() >= 3, "and on the cluster, not in vacuum"
        assert np.linalg.norm(site - x[atom]) == pytest.approx(
            np.median(np.sort(np.linalg.norm(x[:, None] - x[None], axis=-1), axis=1)[:, 1])
        )
