"""One MD/minimisation interface, two backends (LAMMPS for EAM, asap3 for EMT/Gupta).

Units are ASE's throughout: Å, eV, velocities in Å per ASE time unit, time steps given in fs.
An engine holds one system (fixed atom count, species and cell) and mutable positions and
velocities. Dynamics are chosen with small strategy objects (:class:`NVE`, :class:`Langevin`);
running the same sequence of calls with the same seeds gives the same trajectory.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import Calculator

from hopformer.streams import LAMMPS_SEEDS


@dataclass(frozen=True)
class NVE:
    """Velocity-Verlet, constant energy."""

    timestep_fs: float = 2.0


@dataclass(frozen=True)
class Langevin:
    """Velocity-Verlet with a Langevin thermostat; ``damping_fs`` is 1/friction."""

    temperature_K: float
    timestep_fs: float = 2.0
    damping_fs: float = 100.0
    seed: int = 1

    def __post_init__(self):
        if self.temperature_K <= 0 or self.timestep_fs <= 0 or self.damping_fs <= 0:
            raise ValueError(
                f"Langevin needs positive temperature_K, timestep_fs and damping_fs, got {self}"
            )
        if not (0 < self.seed <= LAMMPS_SEEDS):
            raise ValueError(f"Langevin seed must be in 1..{LAMMPS_SEEDS}, got {self.seed}")


Integrator = NVE | Langevin


@dataclass(frozen=True)
class MinimizeResult:
    """Outcome of a minimisation: positions (N, 3) Å, energy eV, max per-atom force eV/Å."""

    positions: np.ndarray
    energy: float
    fmax: float
    converged: bool
    iterations: int  # minimiser iterations (LAMMPS: steps of CG + FIRE; ASE: optimizer steps)


_FORCE_CALLS = [0]


def count_force_calls(n: int = 1) -> None:
    """Backends call this for every evaluation of the potential they make."""
    _FORCE_CALLS[0] += int(n)


def force_calls() -> int:
    """Force evaluations made in this process so far, by every engine and calculator.

    Counted at the backends: one per MD step, per minimiser iteration and per single
    evaluation (a cached repeat at unchanged positions is not counted by LAMMPS, but is by
    ASE-driven engines). Event finders are compared by differences of this counter
    (docs/design.md §9)."""
    return _FORCE_CALLS[0]


def fmax_of(forces: np.ndarray) -> float:
    """Largest per-atom force norm (eV/Å), ASE's ``fmax`` convention."""
    return float(np.sqrt((np.asarray(forces) ** 2).sum(axis=1)).max())


class Engine(ABC):
    """A system whose dynamics and minimisation run in a backend."""

    atoms: Atoms  # the template: species, masses, cell, pbc (positions not kept in sync)

    @property
    def natoms(self) -> int:
        return len(self.atoms)

    @abstractmethod
    def set_positions(self, positions: np.ndarray) -> None: ...

    @abstractmethod
    def get_positions(self) -> np.ndarray:
        """Positions in Å, in the order of ``atoms``. In a periodic cell they are wrapped into
        the cell; an atom on a cell face may come back one lattice vector away from where it
        was set (float rounding decides the side), so compare periodic positions modulo the
        cell (:func:`hopformer.physics.structure.minimum_image`)."""

    @abstractmethod
    def set_velocities(self, velocities: np.ndarray) -> None: ...

    @abstractmethod
    def get_velocities(self) -> np.ndarray: ...

    @abstractmethod
    def run(self, nsteps: int, integrator: Integrator) -> None:
        """Advance ``nsteps`` MD steps with ``integrator``."""

    @abstractmethod
    def minimize(self, fmax: float = 1e-3, max_steps: int = 10_000) -> MinimizeResult:
        """Minimise the current positions in place until the max atom force ≤ ``fmax``."""

    @abstractmethod
    def energy(self) -> float:
        """Potential energy (eV) at the current positions."""

    @abstractmethod
    def forces(self) -> np.ndarray:
        """Forces (N, 3) eV/Å at the current positions."""

    @abstractmethod
    def calculator(self) -> Calculator:
        """A fresh, independent ASE calculator for the same potential (one per NEB image)."""

    def close(self) -> None:
        """Release backend resources (a LAMMPS instance); the engine is unusable afterwards."""
        return None  # nothing to release by default (asap3 lives in the Python objects)

    def kinetic_energy(self) -> float:
        v = self.get_velocities()
        return float(0.5 * (self.atoms.get_masses()[:, None] * v * v).sum())

    def current_atoms(self) -> Atoms:
        """A copy of the template with the engine's positions and velocities."""
        atoms = self.atoms.copy()
        atoms.set_positions(self.get_positions())
        atoms.set_velocities(self.get_velocities())
        return atoms

    def thermalize(self, temperature_K: float, seed: int) -> None:
        """Maxwell–Boltzmann velocities at ``temperature_K``, seeded, without net momentum.

        For a free cluster the net angular momentum is removed too (a rigid spin is not heat),
        and velocities are rescaled so the kinetic temperature over the remaining degrees of
        freedom is exactly ``temperature_K``.
        """
        self.set_velocities(maxwell_boltzmann(self.atoms, temperature_K, seed))


def maxwell_boltzmann(atoms: Atoms, temperature_K: float, seed: int) -> np.ndarray:
    """Seeded thermal velocities (ASE units) with zero momentum (and spin, if not periodic)."""
    if temperature_K < 0:
        raise ValueError(f"temperature_K must be ≥ 0, got {temperature_K}")
    n = len(atoms)
    masses = atoms.get_masses()
    if temperature_K == 0 or n < 2:
        return np.zeros((n, 3))
    rng = np.random.default_rng(seed)
    kT = units.kB * temperature_K
    v = rng.normal(size=(n, 3)) * np.sqrt(kT / masses)[:, None]
    v -= (masses[:, None] * v).sum(0) / masses.sum()
    dof = 3 * n - 3
    if not atoms.pbc.any():
        v = remove_rotation(atoms.get_positions(), masses, v)
        dof -= 3
    ke = 0.5 * (masses[:, None] * v * v).sum()
    return v * np.sqrt(0.5 * dof * kT / ke)


def remove_rotation(positions: np.ndarray, masses: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Velocities with the rigid rotation about the centre of mass taken out."""
    com = (masses[:, None] * positions).sum(0) / masses.sum()
    r = positions - com
    L = (masses[:, None] * np.cross(r, v)).sum(0)
    inertia = (
        masses[:, None, None]
        * ((r * r).sum(1)[:, None, None] * np.eye(3) - r[:, :, None] * r[:, None, :])
    ).sum(0)
    omega = np.linalg.lstsq(inertia, L, rcond=None)[0]
    return v - np.cross(omega, r)
