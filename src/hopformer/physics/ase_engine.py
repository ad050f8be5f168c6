"""asap3 backend: EMT and Gupta/RGL potentials, dynamics and minimisation through ASE.

asap3 has no EAM; it is the engine for its own fast potentials. MD uses ASE's integrators
(velocity Verlet, Langevin with a seeded generator), minimisation ASE's FIRE.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import Calculator
from ase.md.langevin import Langevin as AseLangevin
from ase.md.verlet import VelocityVerlet
from ase.optimize import FIRE

from hopformer.physics.engine import (
    NVE,
    Engine,
    Integrator,
    Langevin,
    MinimizeResult,
    count_force_calls,
    fmax_of,
)
from hopformer.physics.structure import check_overlaps

# Cleri & Rosato, Phys. Rev. B 48, 22 (1993), Table I: p, q, A (eV), ξ (eV); r0 = a0/√2.
GUPTA_CLERI_ROSATO = {
    "Pt": dict(p=10.612, q=4.004, a=0.2975, xi=2.695, r0=3.92 / 2**0.5),
    "Au": dict(p=10.229, q=4.036, a=0.2061, xi=1.790, r0=4.08 / 2**0.5),
    "Cu": dict(p=10.960, q=2.278, a=0.0855, xi=1.224, r0=3.615 / 2**0.5),
    "Ag": dict(p=10.928, q=3.139, a=0.1028, xi=1.178, r0=4.09 / 2**0.5),
}


def asap_calculator(kind: str, element: str | None = None) -> Calculator:
    """A fresh asap3 calculator: ``"EMT"`` or ``"Gupta"`` (Cleri–Rosato parameters)."""
    import asap3

    if kind.upper() == "EMT":
        return asap3.EMT()
    if kind.lower() in ("gupta", "rgl"):
        if element not in GUPTA_CLERI_ROSATO:
            raise ValueError(
                f"no Gupta parameters for element {element!r}: expected one of "
                f"{', '.join(sorted(GUPTA_CLERI_ROSATO))}"
            )
        p = GUPTA_CLERI_ROSATO[element]
        arr = {k: np.array([[v]]) for k, v in p.items()}  # asap3 wants (n, n) matrices
        return asap3.Gupta([element], **arr)
    raise ValueError(f"unknown asap3 potential {kind!r}: expected 'EMT' or 'Gupta'")


class AseEngine(Engine):
    """A system driven by an ASE calculator (asap3's EMT/Gupta); ``make_calc`` builds one."""

    def __init__(self, atoms: Atoms, make_calc: Callable[[], Calculator]):
        check_overlaps(atoms)
        self.atoms = atoms.copy()
        self.atoms.calc = None
        self._make_calc = make_calc
        self._work = atoms.copy()
        self._work.calc = make_calc()
        self._integrator: Integrator | None = None
        self._dyn = None

    def set_positions(self, positions: np.ndarray) -> None:
        positions = np.asarray(positions, dtype=float)
        if positions.shape != (self.natoms, 3) or not np.isfinite(positions).all():
            raise ValueError(f"positions must be finite with shape ({self.natoms}, 3)")
        self._work.set_positions(positions)

    def get_positions(self) -> np.ndarray:
        return self._work.get_positions()

    def set_velocities(self, velocities: np.ndarray) -> None:
        self._work.set_velocities(np.asarray(velocities, dtype=float))

    def get_velocities(self) -> np.ndarray:
        return self._work.get_velocities()

    def run(self, nsteps: int, integrator: Integrator) -> None:
        if integrator != self._integrator:
            dt = integrator.timestep_fs * units.fs
            if isinstance(integrator, Langevin):
                self._dyn = AseLangevin(
                    self._work,
                    dt,
                    temperature_K=integrator.temperature_K,
                    friction=1.0 / (integrator.damping_fs * units.fs),
                    rng=np.random.default_rng(integrator.seed),
                    fixcm=True,
                )
            elif isinstance(integrator, NVE):
                self._dyn = VelocityVerlet(self._work, dt)
            else:
                raise TypeError(f"unknown integrator {integrator!r}")
            self._integrator = integrator
        self._dyn.run(int(nsteps))
        count_force_calls(int(nsteps))

    def minimize(self, fmax: float = 1e-3, max_steps: int = 10_000) -> MinimizeResult:
        self._work.set_velocities(np.zeros((self.natoms, 3)))
        opt = FIRE(self._work, logfile=None)
        opt.run(fmax=fmax, steps=max_steps)
        self._work.set_velocities(np.zeros((self.natoms, 3)))
        fm = fmax_of(self._work.get_forces())
        count_force_calls(opt.nsteps + 1)
        return MinimizeResult(self.get_positions(), self.energy(), fm, fm <= fmax, opt.nsteps)

    def energy(self) -> float:
        count_force_calls()
        return float(self._work.get_potential_energy())

    def forces(self) -> np.ndarray:
        count_force_calls()
        return self._work.get_forces()

    def calculator(self) -> Calculator:
        return self._make_calc()
