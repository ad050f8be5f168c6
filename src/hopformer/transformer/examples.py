"""Transitions as model inputs: examples read from the dataset, hints, padded batches."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from hopformer.data import schema
from hopformer.data.shards import read_table
from hopformer.transformer.network import Batch


@dataclass(frozen=True)
class Example:
    """One transition: ``initial`` and ``final`` (N, 3) minima in one atom order, the final one
    aligned onto the initial one (as the dataset stores them), and the state ids."""

    numbers: np.ndarray
    initial: np.ndarray
    final: np.ndarray
    initial_state: int = -1
    final_state: int = -1
    atoms_moved: int = 0

    @property
    def natoms(self) -> int:
        return len(self.numbers)

    def displacements(self) -> np.ndarray:
        return np.linalg.norm(self.final - self.initial, axis=1)


def read_examples(path: str | os.PathLike, max_atoms: int | None = None) -> list[Example]:
    """The rows of a dataset split as examples; clusters above ``max_atoms`` are an error."""
    table = read_table(path, schema.DATASET).to_pylist()
    out = []
    for row in table:
        n = len(row["numbers"])
        if max_atoms is not None and n > max_atoms:
            raise ValueError(
                f"{path}: a transition of {n} atoms exceeds transformer.max_atoms = {max_atoms}"
            )
        out.append(
            Example(
                np.asarray(row["numbers"], dtype=np.int64),
                np.reshape(row["initial_positions"], (n, 3)),
                np.reshape(row["final_positions"], (n, 3)),
                row["initial_state"],
                row["final_state"],
                row["atoms_moved"],
            )
        )
    return out


def top_k_atoms(example: Example, k: int) -> np.ndarray:
    """The ``k`` atoms with the largest displacement in the true transition (docs/design.md §6);
    ties broken by atom index, so the hint is a pure function of the example."""
    order = np.lexsort((np.arange(example.natoms), -example.displacements()))
    return np.sort(order[:k])


def hint_sizes(natoms: int) -> list[int]:
    """k = 0, 1, 2, 4, 8, … up to N/2 (the evaluation protocol's hint sizes)."""
    ks, k = [0], 1
    while k < natoms // 2:
        ks.append(k)
        k *= 2
    return ks + [natoms // 2] if natoms >= 2 else ks


def collate(
    clusters: Sequence[tuple[np.ndarray, np.ndarray]],
    hints: Sequence[tuple[np.ndarray, np.ndarray]],
    max_atoms: int,
) -> Batch:
    """Pad clusters ``(numbers, positions)`` with hints ``(atoms, final positions)`` to a batch."""
    n = max(len(numbers) for numbers, _ in clusters)
    if n > max_atoms:
        raise ValueError(f"a cluster of {n} atoms exceeds transformer.max_atoms = {max_atoms}")
    b = len(clusters)
    pos = torch.zeros(b, n, 3, dtype=torch.float64)
    num = torch.zeros(b, n, dtype=torch.long)
    mask = torch.zeros(b, n, dtype=torch.bool)
    hmask = torch.zeros(b, n, dtype=torch.bool)
    hpos = torch.zeros(b, n, 3, dtype=torch.float64)
    for i, ((numbers, positions), (atoms, targets)) in enumerate(zip(clusters, hints, strict=True)):
        m = len(numbers)
        pos[i, :m] = torch.as_tensor(np.asarray(positions, dtype=np.float64))
        num[i, :m] = torch.as_tensor(np.asarray(numbers))
        mask[i, :m] = True
        atoms = np.asarray(atoms, dtype=np.int64)
        if atoms.size:
            if atoms.min() < 0 or atoms.max() >= m or len(set(atoms.tolist())) != atoms.size:
                raise ValueError(f"hint atoms {atoms.tolist()} are not distinct atoms 0..{m - 1}")
            hmask[i, atoms] = True
            hpos[i, atoms] = torch.as_tensor(np.reshape(targets, (-1, 3)), dtype=torch.float64)
    return Batch(pos, num, mask, hmask, hpos)


def example_batch(
    examples: Sequence[Example], ks: Sequence[int], max_atoms: int
) -> tuple[Batch, torch.Tensor]:
    """Examples with top-k hints as a batch, and the padded true final positions."""
    hints = []
    for ex, k in zip(examples, ks, strict=True):
        atoms = top_k_atoms(ex, k)
        hints.append((atoms, ex.final[atoms]))
    batch = collate([(ex.numbers, ex.initial) for ex in examples], hints, max_atoms)
    target = torch.zeros_like(batch.positions)
    for i, ex in enumerate(examples):
        target[i, : ex.natoms] = torch.as_tensor(ex.final)
    return batch, target
