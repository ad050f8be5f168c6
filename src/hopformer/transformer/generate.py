"""Generating final states for one structure: the Python API behind ``hopformer generate``.

From a notebook::

    from ase.io import read
    from hopformer.transformer.generate import generate
    from hopformer.transformer.training import load_model

    model = load_model("results/default/model/transformer.pt")
    frames = generate(model, read("initial.xyz"), "results/default/reference/potential.eam.alloy",
                      hint_atoms=[7], hint_positions=[[1.2, 0.3, 5.1]], samples=8)
    [(f.info["status"], f.info.get("delta_energy")) for f in frames]

Each returned frame is one candidate relaxed with the splicing quench (or, when it could not
be relaxed, the raw candidate with its ``status``), so its energy change and whether it fell
back to the initial state are physical statements, not the network's.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from ase import Atoms

from hopformer.physics.relax import Relaxer
from hopformer.physics.states import QUENCH_FMAX, SAME_STATE_TOL
from hopformer.transformer.evaluation import model_candidates
from hopformer.transformer.examples import Example
from hopformer.transformer.network import TransitionModel


def generate(
    model: TransitionModel,
    initial: Atoms,
    potential: str | os.PathLike,
    hint_atoms: Sequence[int] = (),
    hint_positions=None,
    samples: int = 8,
    seed: int = 0,
    mode: bool = False,
    fmax: float = QUENCH_FMAX,
    tol: float = SAME_STATE_TOL,
) -> list[Atoms]:
    """Candidates for ``initial`` given the final positions (Å, ``hint_positions``) of
    ``hint_atoms`` (0-based), each relaxed on ``potential``; ``mode`` gives the most probable
    one only. Frames carry ``sample``, ``status`` and, when relaxed, ``relaxed_energy``,
    ``delta_energy`` (eV) and ``same_as_initial`` in ``info``."""
    n = len(initial)
    atoms = np.asarray(list(hint_atoms), dtype=np.int64)
    targets = np.zeros((0, 3)) if hint_positions is None else np.asarray(hint_positions, float)
    if targets.shape != (len(atoms), 3):
        raise ValueError(f"hint: {len(atoms)} atoms but positions of shape {targets.shape}")
    if atoms.size and (atoms.min() < 0 or atoms.max() >= n):
        raise ValueError(f"hint atoms {atoms.tolist()}: atoms are numbered 0..{n - 1}")
    relaxer = Relaxer(potential, fmax=fmax, tol=tol)
    try:
        start = relaxer.relax(initial.positions, initial.numbers)  # the model's input is a minimum
        if not start.ok:
            raise ValueError(f"the initial structure does not relax to a minimum ({start.detail})")
        ex = Example(initial.numbers, start.positions, start.positions)
        cands = model_candidates(
            model, ex, atoms, targets, samples=1 if mode else samples, seed=seed, mode=mode
        )
        frames = []
        for i, cand in enumerate(cands):
            res = relaxer.relax(cand, initial.numbers)
            frame = Atoms(
                numbers=initial.numbers,
                positions=res.positions if res.ok else cand,
                cell=initial.cell,
                pbc=initial.pbc,
            )
            frame.info.update(sample=i, status=res.status)
            if res.ok:
                frame.info.update(
                    relaxed_energy=res.energy,
                    delta_energy=res.energy - start.energy,
                    same_as_initial=relaxer.same(start.positions, res.positions, initial.numbers),
                )
            else:
                frame.info.update(detail=res.detail)
            frames.append(frame)
        return frames
    finally:
        relaxer.close()
