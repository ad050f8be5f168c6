"""Climbing-image NEB between two minima of a free cluster, with intermediate minima split off.

docs/design.md §7: ASE's ``NEB(..., method="improvedtangent", climb=True)`` — ``method`` is always
passed (ASE 3.27.1 changed the default) — IDPP interpolation, FIRE on the band (never BFGS: 319
s against 0.3 s measured), one calculator per image (``potentials.calculator``: for EAM a
``LammpsEAM`` with its own LAMMPS; an MLIP model file works too), a non-periodic cell. A free
cluster's minima come in arbitrary frames, so the final minimum is Kabsch-aligned onto the
initial one before interpolating and the band is kept free of rigid motion while it relaxes
(``remove_rotation_and_translation``). The band is relaxed plain first and the top image climbs
only when the plain band has an interior maximum: on disordered Pt55 many MD transitions have
no barrier the band resolves, and a climbing image started there climbs the repulsive wall (40
eV within 300 steps). The barrier is read off the climbing image; an unconverged band is
reported as such (``converged`` False), never trusted.

A band whose interior holds a local energy minimum that relaxes to a state distinct from both
ends is not one elementary transition: :func:`minimum_energy_path` splits it there and runs a
band on each part, recursively up to ``max_depth``. (Measured on a Pt adatom on the (100) facet
of a Pt201 truncated octahedron: a 7-image band between neighbouring hollows converges on the
direct hop, 0.718 eV, while a 13-image band finds a two-step path through an intermediate
minimum, 0.438 eV per step. Enough images matter. The defaults, 9 images relaxed to 0.02 eV/Å,
give a step's barrier within 5 meV of a 15-image band at 0.002 eV/Å; 7 images at 0.05 eV/Å
missed it by 5.7 meV.)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from ase import Atoms
from ase.mep import NEB
from ase.optimize import FIRE

from hopformer.physics.potentials import calculator
from hopformer.physics.states import align
from hopformer.physics.structure import center_in_vacuum


class _CachedNEB(NEB):
    """ASE's NEB, computing the band's forces once per set of positions.

    ASE's optimisers ask for the gradient several times per step (convergence test, step,
    log); with ``remove_rotation_and_translation`` every call re-aligns the images, which
    moves them by ~1e-15 Å and makes each image's calculator run again: three force calls
    per image and step where one will do (measured: 23 calls per step of a 9-image band).
    """

    _cached: tuple[bytes, bool, np.ndarray] | None = None

    def get_forces(self):
        key = self.get_positions().tobytes()
        if self._cached is not None and self._cached[:2] == (key, self.climb):
            return self._cached[2].copy()
        forces = super().get_forces()
        self._cached = (self.get_positions().tobytes(), self.climb, forces.copy())
        return forces


@dataclass(frozen=True)
class Band:
    """A relaxed band: ``positions`` (images, N, 3) in the initial minimum's frame,
    ``energies`` (eV) of every image, ``converged`` (max NEB force ≤ ``fmax`` within the step
    limit), the optimiser ``steps`` taken, and ``climbed`` (the top image climbed to the
    saddle). ``status`` says what the band is (see :attr:`status`)."""

    positions: np.ndarray
    energies: np.ndarray
    converged: bool
    steps: int
    fmax: float
    climbed: bool = False
    note: str = ""
    intermediate: np.ndarray | None = None  # a distinct minimum found on the band: split here

    @property
    def saddle(self) -> int:
        return int(np.argmax(self.energies))

    @property
    def barrier(self) -> float:
        """Forward barrier, eV: the climbing image above the initial minimum."""
        return float(self.energies.max() - self.energies[0])

    @property
    def reverse_barrier(self) -> float:
        return float(self.energies.max() - self.energies[-1])

    @property
    def status(self) -> str:
        """``ok`` (converged, climbed to a saddle), ``unconverged``, ``intermediate_minimum``
        (the plain band has an interior minimum: not one elementary step), or ``no_saddle``
        (converged, but no interior image above both ends: no barrier the band resolves)."""
        if not self.converged:
            return "unconverged"
        if self.climbed:
            return "ok"
        return "intermediate_minimum" if self.interior_minima() else "no_saddle"

    def interior_minima(self, tol: float = 1e-3) -> list[int]:
        """Interior images lower than both neighbours by more than ``tol`` eV."""
        e = self.energies
        return [i for i in range(1, len(e) - 1) if e[i] < e[i - 1] - tol and e[i] < e[i + 1] - tol]

    def has_interior_maximum(self, tol: float = 1e-3) -> bool:
        e = self.energies
        return bool(e[1:-1].max() > max(e[0], e[-1]) + tol)


def run_neb(
    potential: str | os.PathLike,
    numbers: np.ndarray,
    initial: np.ndarray,
    final: np.ndarray,
    images: int = 9,
    fmax: float = 0.02,
    steps: int = 2000,
    spring: float = 0.1,
    vacuum: float = 10.0,
    split_at: Callable[[Band], np.ndarray | None] | None = None,
    runaway: float = 2.0,
) -> Band:
    """One band of ``images`` images (ends included) between two minima (N, 3) in one atom
    order: a plain band relaxed to ``fmax`` first, then the top image climbs to the saddle.

    When the converged band (plain, then climbed) has interior minima, ``split_at(band)``
    may name a distinct minimum there: the band is returned with it as ``intermediate`` (the
    caller splits). An unconverged plain band is returned as it is: its interior minima mean nothing
    yet, and splitting it would only multiply unconverged bands (measured on Pt147: one
    candidate spent 54 s in five such bands).
    The climb is skipped when the plain band has no interior maximum (status ``no_saddle``).
    A climbing image with no saddle near it climbs the repulsive wall instead (measured on
    Pt55: 40 eV within 300 steps); if the band's top rises ``runaway`` eV above the plain
    band's top, the climb stops and the band is reported unconverged.
    """
    if images < 5:
        raise ValueError(f"a band needs at least 5 images, got {images}")
    initial = np.asarray(initial, dtype=float)
    final = align(initial, final)
    box = center_in_vacuum(Atoms(numbers=numbers, positions=initial), vacuum)
    shift = box.positions - initial
    band = []
    for k in range(images):
        x = initial if k < images - 1 else final
        atoms = Atoms(numbers=numbers, positions=x + shift, cell=box.cell, pbc=False)
        atoms.calc = calculator(potential)
        band.append(atoms)
    neb = _CachedNEB(
        band, k=spring, climb=False, method="improvedtangent", remove_rotation_and_translation=True
    )
    neb.interpolate(method="idpp")

    def result(converged: bool, taken: int, climbed: bool, note: str = "") -> Band:
        energies = np.array([a.get_potential_energy() for a in band])
        positions = np.array([align(initial, a.positions - shift) for a in band])
        return Band(positions, energies, converged, taken, fmax, climbed, note)

    opt = FIRE(neb, logfile=None)
    converged = bool(opt.run(fmax=fmax, steps=steps))
    taken = int(opt.nsteps)

    def split(b: Band) -> Band | None:
        if b.converged and split_at is not None and b.interior_minima():
            x = split_at(b)
            if x is not None:
                return replace(b, intermediate=x)
        return None

    plain = result(converged, taken, False)
    if (cut := split(plain)) is not None:
        return cut
    if not converged or not plain.has_interior_maximum():
        return plain
    top = plain.energies.max()
    neb.climb = True
    opt = FIRE(neb, logfile=None)
    budget = steps - plain.steps
    while True:
        converged = bool(opt.run(fmax=fmax, steps=min(50, budget - opt.nsteps)))
        taken = plain.steps + int(opt.nsteps)
        if converged or opt.nsteps >= budget:
            climbed = result(converged, taken, True)
            # Climbing can uncover a minimum the plain band smoothed over (a dip beside the
            # image that climbed): split there too.
            return split(climbed) or climbed
        if max(a.get_potential_energy() for a in band) > top + runaway:
            note = f"the climbing image ran away (> {runaway} eV above the band)"
            return result(False, taken, True, note)


@dataclass(frozen=True)
class Path:
    """A minimum-energy path as elementary segments (one band each), in order."""

    segments: list[Band]

    @property
    def converged(self) -> bool:
        return all(s.converged for s in self.segments)

    @property
    def split(self) -> bool:
        return len(self.segments) > 1


def minimum_energy_path(
    potential: str | os.PathLike,
    numbers: np.ndarray,
    initial: np.ndarray,
    final: np.ndarray,
    relax: Callable[[np.ndarray], np.ndarray | None],
    same: Callable[[np.ndarray, np.ndarray], bool],
    max_depth: int = 2,
    **neb_options,
) -> Path:
    """Bands from ``initial`` to ``final``, split at intermediate minima (module doc).

    ``relax(positions)`` quenches an image (None if that fails); ``same(a, b)`` is the
    state-identity test.
    """

    def split_at(band: Band) -> np.ndarray | None:
        for i in band.interior_minima():
            x = relax(band.positions[i])
            if x is not None and not same(x, initial) and not same(x, final):
                return x
        return None

    band = run_neb(
        potential,
        numbers,
        initial,
        final,
        split_at=split_at if max_depth > 0 else None,
        **neb_options,
    )
    if band.intermediate is not None:
        x = band.intermediate
        first = minimum_energy_path(
            potential, numbers, initial, x, relax, same, max_depth - 1, **neb_options
        )
        second = minimum_energy_path(
            potential, numbers, x, final, relax, same, max_depth - 1, **neb_options
        )
        return Path(first.segments + second.segments)
    return Path([band])
