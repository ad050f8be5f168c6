"""Event finders: three ways to propose what a state does next (docs/design.md §9).

Every finder starts from the same *epicentres*: a surface atom (fewer than 12 neighbours) and
an empty hollow site next to it (:func:`hopformer.transformer.evaluation.surface_hint`),
drawn from one seeded stream per search job, so that with the same seed the three finders
work on the same atoms and sites. An atom with c neighbours is drawn with weight
e^{``epicentre_bias``·(12 − c)}: adatoms and vertices first, where adaptive-KMC codes
displace (eOn's under-coordinated epicentres); 0 draws every surface atom alike. Sites may
lie level with the atom (:data:`LATERAL`), where an adatom's next hollow is. On a Pt142
truncated octahedron with 2 adatoms, bias 1 puts 64 % of the epicentres on the adatoms
(0: 8 %).

* ``transformer`` — the model's mode candidate with the epicentre atom's final position as the
  hint (the site), and a share ``unhinted_fraction`` of seeded draws with no hint at all.
* ``displacement`` — the same move without the model, as adaptive-KMC codes displace: the
  epicentre atom to the site, its neighbours within ``radius`` kicked by a Gaussian of width
  ``sigma``; the quench decides where that ends.
* ``dimer`` — a min-mode saddle search (ASE's dimer method) from the eOn-style displacement of
  the epicentre and its neighbours (Gaussian ``sigma``, no site move); at the saddle the
  structure is pushed ``push`` Å both ways along the lowest mode and quenched: when one side
  falls back into the state, the other side is the product.

A finder returns candidate structures; the search job relaxes and validates them all the same
way, so the finders differ only in what they propose and in the force calls they spend.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.mep import DimerControl, MinModeAtoms, MinModeTranslate

from hopformer.physics.relax import Relaxer
from hopformer.physics.structure import center_in_vacuum
from hopformer.transformer.evaluation import model_candidates, surface_hint
from hopformer.transformer.examples import Example
from hopformer.transformer.network import TransitionModel

FINDERS = ("transformer", "displacement", "dimer")
# Sites may lie level with the epicentre atom (direction down to −0.2 along its outward
# radius): an adatom's next hollow site is beside it, not above it, and the exploration
# protocol's outward-only sites (≥ 0.1) would leave adatom hops out.
LATERAL = -0.2


@dataclass(frozen=True)
class FinderConfig:
    proposals: int = 8
    unhinted_fraction: float = 0.25
    sigma: float = 0.2
    radius: float = 3.3
    dimer_fmax: float = 0.01
    dimer_steps: int = 300
    push: float = 0.2
    epicentre_bias: float = 1.0


def epicentres(
    x: np.ndarray, count: int, generator: np.random.Generator, bias: float = 0.0
) -> list:
    """``count`` (atom, site) pairs in ``x``'s frame (None where no site was found); atoms
    with c neighbours are drawn with weight e^{bias·(12 − c)}."""
    centre = x.mean(0)
    out = []
    for _ in range(count):
        hit = surface_hint(x, generator, bias=bias, outward=LATERAL)
        out.append(None if hit is None else (hit[0], hit[1] + centre))
    return out


def neighbours(x: np.ndarray, atom: int, radius: float) -> np.ndarray:
    """The epicentre and the atoms within ``radius`` Å of it."""
    return np.flatnonzero(np.linalg.norm(x - x[atom], axis=1) <= radius)


def gaussian_kick(
    x: np.ndarray, atom: int, config: FinderConfig, generator: np.random.Generator
) -> np.ndarray:
    kick = np.zeros_like(x)
    idx = neighbours(x, atom, config.radius)
    kick[idx] = generator.normal(scale=config.sigma, size=(len(idx), 3))
    return kick


def transformer_proposals(
    model: TransitionModel,
    numbers: np.ndarray,
    x: np.ndarray,
    config: FinderConfig,
    generator: np.random.Generator,
) -> list[np.ndarray | None]:
    ex = Example(numbers, x, x)
    unhinted = int(round(config.proposals * config.unhinted_fraction))
    out: list[np.ndarray | None] = []
    for centre in epicentres(x, config.proposals - unhinted, generator, config.epicentre_bias):
        if centre is None:
            out.append(None)
            continue
        atom, site = centre
        out.append(model_candidates(model, ex, np.array([atom]), site[None], mode=True)[0])
    if unhinted:
        seed = int(generator.integers(2**31))
        empty = np.zeros(0, dtype=np.int64)
        out += list(model_candidates(model, ex, empty, np.zeros((0, 3)), unhinted, seed=seed))
    return out


def displacement_proposals(
    x: np.ndarray, config: FinderConfig, generator: np.random.Generator
) -> list[np.ndarray | None]:
    out: list[np.ndarray | None] = []
    for centre in epicentres(x, config.proposals, generator, config.epicentre_bias):
        if centre is None:
            out.append(None)
            continue
        atom, site = centre
        cand = x + gaussian_kick(x, atom, config, generator)
        cand[atom] = site
        out.append(cand)
    return out


def dimer_proposals(
    relaxer: Relaxer,
    numbers: np.ndarray,
    x: np.ndarray,
    config: FinderConfig,
    generator: np.random.Generator,
) -> list[np.ndarray | None]:
    out: list[np.ndarray | None] = []
    box = center_in_vacuum(Atoms(numbers=numbers, positions=x), relaxer.vacuum)
    shift = box.positions - x
    calc = relaxer.engine(numbers, x).calculator()
    for centre in epicentres(x, config.proposals, generator, config.epicentre_bias):
        if centre is None:
            out.append(None)
            continue
        kick = gaussian_kick(x, centre[0], config, generator)
        out.append(_dimer_product(relaxer, numbers, x, box, shift, kick, calc, config))
    return out


def _dimer_product(relaxer, numbers, x, box, shift, kick, calc, config) -> np.ndarray | None:
    atoms = box.copy()
    atoms.calc = calc
    control = DimerControl(
        initial_eigenmode_method="displacement",
        displacement_method="vector",
        logfile=None,
    )
    dimer = MinModeAtoms(atoms, control)
    dimer.displace(displacement_vector=kick, mask=(kick != 0).any(1).tolist())
    search = MinModeTranslate(dimer, trajectory=None, logfile=None)
    try:
        converged = search.run(fmax=config.dimer_fmax, steps=config.dimer_steps)
    except Exception:  # noqa: BLE001 — a search that blows up is a failed search, not a crash
        return None
    if not converged or dimer.get_curvature() >= 0:
        return None
    saddle = atoms.positions - shift
    mode = dimer.get_eigenmode()
    mode = mode / np.linalg.norm(mode)
    sides = []
    for sign in (1.0, -1.0):
        res = relaxer.relax(saddle + sign * config.push * mode, numbers)
        sides.append(res.positions if res.ok else None)
    if any(s is None for s in sides):
        return None
    back = [relaxer.same(x, s, numbers) for s in sides]
    if back[0] == back[1]:  # both sides back, or neither: not a saddle of this state
        return None
    return sides[1] if back[0] else sides[0]


def proposer(
    finder: str,
    relaxer: Relaxer,
    model: TransitionModel | None,
    config: FinderConfig,
) -> Callable[[np.ndarray, np.ndarray, np.random.Generator], list[np.ndarray | None]]:
    """``propose(numbers, x, generator)`` of one finder."""
    if finder == "transformer":
        if model is None:
            raise ValueError("the transformer finder needs a model file")
        return lambda numbers, x, g: transformer_proposals(model, numbers, x, config, g)
    if finder == "displacement":
        return lambda numbers, x, g: displacement_proposals(x, config, g)
    if finder == "dimer":
        return lambda numbers, x, g: dimer_proposals(relaxer, numbers, x, config, g)
    raise ValueError(f"kinetics.finders: unknown finder {finder!r}; expected one of {FINDERS}")
