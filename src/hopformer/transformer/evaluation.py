"""Evaluating the transformer: accuracy(k) with its model-free baseline, and exploration.

**accuracy(k)** — the fixed protocol of docs/design.md §6, so numbers compare across versions:
for every held-out transition and every k in 0, 1, 2, 4, … N/2, the hint is the k atoms that
move most in the true transition; the model's *mode* candidate (most probable focus and
component) is relaxed with the splicing quench and counts as a success when the relaxed
state is the true final state by the state-identity test. The **baseline** at the same k is
the initial minimum with the hint atoms moved to their final positions, relaxed the same way.

The model's exploration candidates (hints made without knowing the final state) are made
here too, for :mod:`hopformer.transformer.exploration` and validation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

import numpy as np
import torch

from hopformer.physics.relax import Relaxed, Relaxer
from hopformer.streams import TEST_CHOICE, chosen
from hopformer.transformer.examples import Example, collate, hint_sizes, top_k_atoms
from hopformer.transformer.network import TransitionModel


def model_candidates(
    model: TransitionModel,
    ex: Example,
    atoms: np.ndarray,
    targets: np.ndarray,
    samples: int = 1,
    seed: int | None = None,
    mode: bool = False,
) -> np.ndarray:
    """Candidates (samples, N, 3) for ``ex``'s initial state with the hint (atoms, targets)."""
    device = next(model.parameters()).device
    batch = collate([(ex.numbers, ex.initial)], [(atoms, targets)], model.config.max_atoms)
    gen = None if seed is None else torch.Generator().manual_seed(seed)
    out = model.sample(batch.to(device), samples=samples, generator=gen, mode=mode)
    return out[0].cpu().numpy()


def accuracy_subset(
    examples: Sequence[Example], max_transitions: int | None, seed: int
) -> list[Example]:
    """The held-out transitions accuracy(k) is measured on (a seeded choice of at most
    ``max_transitions``): the one choice of ``evaluate-transformer`` and of every
    learning-curve point."""
    return chosen(list(examples), max_transitions, seed, TEST_CHOICE)


def baseline_candidate(ex: Example, atoms: np.ndarray) -> np.ndarray:
    x = ex.initial.copy()
    x[atoms] = ex.final[atoms]
    return x


def accuracy(
    model: TransitionModel,
    relaxer: Relaxer,
    examples: Sequence[Example],
    ks: Sequence[int] | None = None,
    log: Callable[[str], None] = lambda m: None,
) -> tuple[list[dict], list[dict]]:
    """(per-k summary rows, per-(transition, k) detail rows); see the module doc.

    ``ks`` defaults to the protocol's 0, 1, 2, 4, … N/2; a k above an example's N/2 is skipped
    for that example.
    """
    details = []
    for i, ex in enumerate(examples):
        sizes = hint_sizes(ex.natoms) if ks is None else [k for k in ks if k <= ex.natoms // 2]
        for k in sizes:
            atoms = top_k_atoms(ex, k)
            cand = model_candidates(model, ex, atoms, ex.final[atoms], mode=True)[0]
            res_model = relaxer.relax(cand, ex.numbers)
            res_base = relaxer.relax(baseline_candidate(ex, atoms), ex.numbers)
            details.append(
                {
                    "initial_state": ex.initial_state,
                    "final_state": ex.final_state,
                    "k": k,
                    "natoms": ex.natoms,
                    "atoms_moved": ex.atoms_moved,
                    **_outcome("model", res_model, ex, relaxer),
                    **_outcome("baseline", res_base, ex, relaxer),
                }
            )
        log(f"accuracy: transition {i + 1}/{len(examples)} done")
    return summarise(details), details


def _outcome(prefix: str, res: Relaxed, ex: Example, relaxer: Relaxer) -> dict:
    status = res.status
    success = False
    if res.ok:
        success = relaxer.same(ex.final, res.positions, ex.numbers)
        if not success and relaxer.same(ex.initial, res.positions, ex.numbers):
            status = "initial"
        elif not success:
            status = "other"
    return {
        f"{prefix}_status": "final" if success else status,
        f"{prefix}_success": success,
        f"{prefix}_energy": res.energy,
    }


def summarise(details: Sequence[dict]) -> list[dict]:
    by_k: dict[int, list[dict]] = defaultdict(list)
    for d in details:
        by_k[d["k"]].append(d)
    rows = []
    for k in sorted(by_k):
        ds = by_k[k]
        n = len(ds)
        ms = sum(d["model_success"] for d in ds)
        bs = sum(d["baseline_success"] for d in ds)
        rows.append(
            {
                "k": k,
                "k_fraction": float(np.mean([k / d["natoms"] for d in ds])),
                "transitions": n,
                "model_success": ms,
                "baseline_success": bs,
                "accuracy": ms / n,
                "baseline_accuracy": bs / n,
                "margin": (ms - bs) / n,
                "model_back_to_initial": sum(d["model_status"] == "initial" for d in ds) / n,
                "model_failed": sum(
                    d["model_status"] in ("overlap", "unconverged", "fragmented") for d in ds
                )
                / n,
            }
        )
    return rows


# -- exploration --------------------------------------------------------------------------------
def surface_hint(
    x: np.ndarray,
    generator: np.random.Generator,
    tries: int = 2000,
    bias: float = 0.0,
    outward: float = 0.1,
) -> tuple[int, np.ndarray] | None:
    """One surface atom and a neighbouring empty site for it, chosen without any final state.

    With ``a`` the median nearest-neighbour distance, surface atoms have fewer than 12
    neighbours within 1.25·a. A site is a point ``a`` away from the atom, on the outer side of
    the surface (its direction has a component ≥ ``outward`` along the atom's outward radius),
    that no other atom comes closer to than 0.85·a and that at least three atoms (other than
    the mover) touch within 1.25·a — a hollow site on the surface next to the atom, where an
    atom could sit. Random draws from ``generator``; None if no site is found in ``tries``.
    With ``bias`` > 0 an atom with c neighbours is drawn with weight e^{bias·(12 − c)}: the
    least coordinated atoms (adatoms, vertices) first, as adaptive-KMC codes displace.
    """
    x = x - x.mean(0)
    dist = np.linalg.norm(x[:, None] - x[None], axis=-1)
    np.fill_diagonal(dist, np.inf)
    a = float(np.median(dist.min(1)))
    coordination = (dist < 1.25 * a).sum(1)
    surface = np.flatnonzero(coordination < 12)
    if not surface.size:
        return None
    weights = None
    if bias > 0:
        w = np.exp(bias * (12 - coordination[surface] - (12 - coordination[surface]).max()))
        weights = w / w.sum()
    for _ in range(tries):
        atom = int(generator.choice(surface, p=weights))
        normal = x[atom] / max(float(np.linalg.norm(x[atom])), 1e-9)
        u = generator.normal(size=3)
        u /= np.linalg.norm(u)
        if u.dot(normal) < outward:
            continue
        site = x[atom] + a * u
        d = np.linalg.norm(np.delete(x, atom, axis=0) - site, axis=1)
        if d.min() >= 0.85 * a and (d < 1.25 * a).sum() >= 3:
            return atom, site
    return None


def hint_free_candidates(
    model: TransitionModel,
    ex: Example,
    samples: int,
    surface_hints: int,
    sample_seed: int,
    sites: np.random.Generator,
    drawn: list | None = None,
) -> tuple[list[tuple[np.ndarray, str]], int]:
    """Candidates for ``ex``'s initial state from hints made without any final state:
    ``samples`` seeded draws with no hint ("sampled"), then ``surface_hints`` mode candidates
    with one surface atom moved to an empty neighbouring site drawn from ``sites``
    ("surface"). Returns (candidate, kind) pairs and how many surface hints found no site;
    the hints themselves are appended to ``drawn`` when given (atom, site)."""
    cands = []
    if samples:
        empty = np.zeros(0, dtype=np.int64)
        draws = model_candidates(
            model, ex, empty, np.zeros((0, 3)), samples=samples, seed=sample_seed
        )
        cands += [(c, "sampled") for c in draws]
    missing = 0
    for _ in range(surface_hints):
        hint = surface_hint(ex.initial, sites)
        if hint is None:
            missing += 1
            continue
        atom, site = hint
        site = site + ex.initial.mean(0)
        if drawn is not None:
            drawn.append((atom, site))
        cands.append(
            (model_candidates(model, ex, np.array([atom]), site[None], mode=True)[0], "surface")
        )
    return cands, missing
