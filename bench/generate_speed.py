"""Transformer speed: generation per candidate and training throughput.

1. Generation: ms per generated candidate for one melt-quenched Pt147 initial state (the
   default model size, ``samples`` draws sharing one encoder pass), on the CPU. Target ≤ 20 ms.
   Baseline from the same run: one quench of such a candidate on the reference potential
   (what every candidate costs next), so the ratio says how much of a candidate's price is
   the model.
2. Training: samples per second of optimiser steps (batch 16) for Pt55 and Pt147, on the CPU,
   and on CUDA when torch sees a device; the ratio is against the CPU.

Weights are untrained (speed does not depend on them); the targets are in final positions.
Usage: python bench/generate_speed.py [--samples 32] [--repeats 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from hopformer.physics.clusters import build_cluster
from hopformer.physics.eam import write_setfl
from hopformer.physics.potentials import open_engine
from hopformer.physics.states import quench
from hopformer.physics.zhou2004 import zhou_table
from hopformer.reference.cluster import melt
from hopformer.transformer.examples import Example, collate, example_batch
from hopformer.transformer.network import ModelConfig
from hopformer.transformer.training import new_model


def melted(shells: int, potential: Path) -> np.ndarray:
    atoms = build_cluster("Pt", "icosahedron", shells=shells, lattice_constant=3.92)
    engine = open_engine(atoms, potential)
    melt(engine, 1600.0, 20.0, seed=1)
    x = quench(engine, restore=False).positions
    engine.close()
    return x - x.mean(0), atoms


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = ModelConfig()
    with tempfile.TemporaryDirectory() as tmp:
        potential = write_setfl(zhou_table("Pt"), Path(tmp) / "Pt.eam.alloy")
        x147, atoms147 = melted(4, potential)
        x55, atoms55 = melted(3, potential)

        model = new_model(cfg, seed=0).eval()
        batch = collate([(atoms147.numbers, x147)], [(np.zeros(0, int), np.zeros((0, 3)))], 256)
        gen = torch.Generator().manual_seed(0)
        model.sample(batch, samples=args.samples, generator=gen)  # warm-up
        t_gen = (
            best_of(lambda: model.sample(batch, samples=args.samples, generator=gen), args.repeats)
            / args.samples
        )
        cand = model.sample(batch, samples=1, generator=gen)[0, 0].numpy()
        engine = open_engine(atoms147, potential)
        rattled = x147 + np.random.default_rng(0).normal(0, 0.1, x147.shape)
        t_quench = best_of(lambda: quench(engine, rattled, restore=False), args.repeats)
        engine.close()
        assert np.isfinite(cand).all()
        print(f"generation, Pt147, {args.samples} samples/call, {args.threads} threads:")
        print(
            f"  model      {1e3 * t_gen:8.2f} ms per candidate (target ≤ 20 ms: "
            f"{'met' if 1e3 * t_gen <= 20 else 'NOT met'})"
        )
        print(f"  baseline   {1e3 * t_quench:8.2f} ms per quench of a rattled Pt147 (fmax 1e-3)")
        print(f"  ratio      {t_gen / t_quench:8.3f} (model / quench)")

        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
        print("training throughput, batch 16, default model:")
        for name, x, atoms in (("Pt55", x55, atoms55), ("Pt147", x147, atoms147)):
            rng = np.random.default_rng(1)
            examples = [
                Example(atoms.numbers, x, x + rng.normal(0, 0.2, x.shape)) for _ in range(16)
            ]
            ks = [0, 1, 2, 4] * 4
            rates = {}
            for device in devices:
                m = new_model(cfg, seed=0).to(device).train()
                opt = torch.optim.AdamW(m.parameters(), lr=1e-4)
                b, t = example_batch(examples, ks, cfg.max_atoms)
                b, t = b.to(device), t.to(device)

                def step(m=m, opt=opt, b=b, t=t, device=device):
                    loss, _ = m.loss(b, t)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    if device == "cuda":
                        torch.cuda.synchronize()

                step()
                rates[device] = 16 / best_of(step, args.repeats)
                ratio = rates[device] / rates["cpu"]
                print(
                    f"  {name:6s} {device:5s} {rates[device]:9.1f} samples/s  (×{ratio:.2f} vs cpu)"
                )


if __name__ == "__main__":
    main()
