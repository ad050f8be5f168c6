"""LAMMPS backend: EAM (setfl or funcfl) MD and minimisation run as LAMMPS commands in-process.

Stepping LAMMPS one force call at a time from Python is ~15× slower than letting it run whole
blocks, so :meth:`LammpsEngine.run` issues one ``run N`` and :meth:`minimize` one ``minimize``.
Atom order is the caller's: atoms are created with ids 1..N, sorting is off, and positions and
velocities move in and out with ``gather_atoms``/``scatter_atoms`` (ordered by id).
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import Calculator, all_changes

from hopformer.physics._lammps_import import new_instance
from hopformer.physics.eam import read_potential
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
from hopformer.streams import LAMMPS_SEEDS

# ASE velocity (Å per ASE time unit) → LAMMPS metal velocity (Å/ps).
_V_ASE_TO_LMP = 1000.0 * units.fs


class LammpsEngine(Engine):
    """An EAM system inside one serial LAMMPS instance.

    ``atoms`` gives species, masses, cell and pbc: either fully periodic (any cell) or free
    (no pbc: a shrink-wrapped box, the cell is ignored); periodic positions come back wrapped
    into the cell. ``potential`` is a setfl
    (``.eam.alloy``) or funcfl (``.eam``) file holding every element of ``atoms``.
    """

    def __init__(self, atoms: Atoms, potential: str | os.PathLike, neighbor_skin: float = 1.0):
        self.potential = Path(potential).resolve()
        table = read_potential(self.potential)
        symbols = list(dict.fromkeys(atoms.get_chemical_symbols()))
        missing = [s for s in symbols if s not in table.elements]
        if missing:
            raise ValueError(
                f"element(s) {missing} of the structure are not in potential file "
                f"{self.potential} (it has {table.elements})"
            )
        check_overlaps(atoms)
        pbc = np.asarray(atoms.pbc, dtype=bool)
        if pbc.any() and not pbc.all():
            raise ValueError(f"LammpsEngine: pbc must be all True or all False, got {pbc.tolist()}")
        self.periodic = bool(pbc.all())
        self.atoms = atoms.copy()
        self.atoms.calc = None
        self._types = np.array([symbols.index(s) + 1 for s in atoms.get_chemical_symbols()])
        self._integrator: Integrator | None = None
        self._langevin_fixes = 0
        self._last_langevin: Langevin | None = None
        self._fresh = False
        self._prism = None
        self.lmp = new_instance()
        self._setup(symbols, table.source_format, neighbor_skin)

    # -- set-up -------------------------------------------------------------------------------
    def _setup(self, symbols: list[str], fmt: str, skin: float) -> None:
        cmd = self.lmp.command
        cmd("units metal")
        cmd("atom_style atomic")
        cmd("atom_modify map array sort 0 0.0")
        pos = self.atoms.get_positions()
        if self.periodic:
            from ase.calculators.lammps import Prism

            self._prism = Prism(self.atoms.get_cell(), self.atoms.pbc)
            xhi, yhi, zhi, xy, xz, yz = self._prism.get_lammps_prism()
            cmd("boundary p p p")
            if self._prism.is_skewed() or abs(xy) + abs(xz) + abs(yz) > 0:
                cmd(f"region box prism 0 {xhi} 0 {yhi} 0 {zhi} {xy} {xz} {yz} units box")
            else:
                cmd(f"region box block 0 {xhi} 0 {yhi} 0 {zhi} units box")
            pos = self._prism.vector_to_lammps(pos, wrap=True)
        else:
            cmd("boundary s s s")
            lo, hi = pos.min(0) - 2.0, pos.max(0) + 2.0
            cmd(f"region box block {lo[0]} {hi[0]} {lo[1]} {hi[1]} {lo[2]} {hi[2]} units box")
        cmd(f"create_box {len(symbols)} box")
        n = len(self.atoms)
        self.lmp.create_atoms(
            n,
            list(range(1, n + 1)),
            self._types.tolist(),
            np.ascontiguousarray(pos).ravel().tolist(),
        )
        if self.lmp.get_natoms() != n:
            raise RuntimeError(f"LAMMPS created {self.lmp.get_natoms()} of {n} atoms")
        masses = self.atoms.get_masses()
        for t in range(1, len(symbols) + 1):
            cmd(f"mass {t} {masses[self._types == t][0]}")
        if fmt == "funcfl":
            cmd("pair_style eam")
            cmd(f'pair_coeff 1 1 "{self.potential}"')
        else:
            cmd("pair_style eam/alloy")
            cmd(f'pair_coeff * * "{self.potential}" {" ".join(symbols)}')
        cmd(f"neighbor {skin} bin")
        cmd("neigh_modify every 1 delay 0 check yes")
        cmd("thermo_style custom step pe ke etotal")
        cmd("thermo_modify norm no")
        cmd("thermo 0")
        cmd("velocity all set 0.0 0.0 0.0")

    def close(self) -> None:
        if getattr(self, "lmp", None) is not None:
            self.lmp.close()
            self.lmp = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    # -- state --------------------------------------------------------------------------------
    def _gather(self, name: str) -> np.ndarray:
        data = self.lmp.gather_atoms(name, 1, 3)
        return np.ctypeslib.as_array(data).reshape(-1, 3).copy()

    def _scatter(self, name: str, values: np.ndarray) -> None:
        arr = np.ascontiguousarray(values, dtype=np.float64).ravel()
        self.lmp.scatter_atoms(name, 1, 3, arr.ctypes.data_as(ctypes.POINTER(ctypes.c_double)))

    def _check_shape(self, values: np.ndarray, what: str) -> np.ndarray:
        values = np.asarray(values, dtype=float)
        if values.shape != (self.natoms, 3) or not np.isfinite(values).all():
            raise ValueError(
                f"{what} must be finite with shape ({self.natoms}, 3), got shape {values.shape}"
            )
        return values

    def set_positions(self, positions: np.ndarray) -> None:
        pos = self._check_shape(positions, "positions")
        if self._prism is not None:
            pos = self._prism.vector_to_lammps(pos, wrap=True)
        self._scatter("x", pos)
        # A zero-step run re-wraps the box (shrink-wrapped or periodic) around the new
        # positions and evaluates energy and forces there.
        self.lmp.command("run 0 post no")
        count_force_calls()
        self._fresh = True

    def get_positions(self) -> np.ndarray:
        pos = self._gather("x")
        if self._prism is not None:
            pos = self._prism.vector_to_ase(pos, wrap=True)
        return pos

    def set_velocities(self, velocities: np.ndarray) -> None:
        v = self._check_shape(velocities, "velocities") * _V_ASE_TO_LMP
        if self._prism is not None:
            v = self._prism.vector_to_lammps(v)
        self._scatter("v", v)

    def get_velocities(self) -> np.ndarray:
        v = self._gather("v") / _V_ASE_TO_LMP
        if self._prism is not None:
            v = self._prism.vector_to_ase(v)
        return v

    # -- dynamics -----------------------------------------------------------------------------
    def _drop_integrator(self) -> None:
        if self._integrator is not None:
            self.lmp.command("unfix hf_nve")
            if isinstance(self._integrator, Langevin):
                self.lmp.command("unfix hf_langevin")
            self._integrator = None
            self._fresh = False

    def _use(self, integrator: Integrator) -> None:
        if integrator == self._integrator:
            return
        cmd = self.lmp.command
        self._drop_integrator()
        cmd(f"timestep {integrator.timestep_fs / 1000.0}")
        cmd("fix hf_nve all nve")
        if isinstance(integrator, Langevin):
            T, damp = integrator.temperature_K, integrator.damping_fs / 1000.0
            # A re-created fix restarts its random stream from its seed: when the same
            # integrator comes back (after a quench or a force call dropped it), give it the
            # next seed of a deterministic sequence so the noise never replays.
            again = integrator == self._last_langevin
            self._langevin_fixes = self._langevin_fixes + 1 if again else 0
            self._last_langevin = integrator
            seed = 1 + (integrator.seed - 1 + 104_729 * self._langevin_fixes) % LAMMPS_SEEDS
            cmd(f"fix hf_langevin all langevin {T} {T} {damp} {seed} zero yes")
        elif not isinstance(integrator, NVE):
            raise TypeError(f"unknown integrator {integrator!r}")
        self._integrator = integrator

    def run(self, nsteps: int, integrator: Integrator) -> None:
        if nsteps < 0:
            raise ValueError(f"nsteps must be ≥ 0, got {nsteps}")
        self._use(integrator)
        self.lmp.command(f"run {int(nsteps)} post no")
        count_force_calls(int(nsteps) + 1)
        self._fresh = True

    def minimize(self, fmax: float = 1e-3, max_steps: int = 10_000) -> MinimizeResult:
        """CG to fmax/10 (max-norm), then a FIRE polish if CG stopped above ``fmax``.

        CG alone stops above the tolerance in 11–20 % of hot-cluster quenches (docs/design.md §3);
        FIRE finishes them. Velocities are zero afterwards.
        """
        if fmax <= 0:
            raise ValueError(f"fmax must be > 0, got {fmax}")
        cmd = self.lmp.command
        self._drop_integrator()  # fix langevin would add its noise to the forces at set-up
        step0 = self.lmp.get_thermo("step")
        cmd("min_style cg")
        cmd("min_modify norm max")
        cmd(f"minimize 0.0 {fmax / 10.0} {max_steps} {10 * max_steps}")
        f = self._gather("f")
        if fmax_of(f) > fmax:
            cmd("min_style fire")
            cmd("min_modify norm max")
            cmd(f"minimize 0.0 {fmax / 10.0} {max_steps} {10 * max_steps}")
            f = self._gather("f")
        cmd("velocity all set 0.0 0.0 0.0")
        self._fresh = True
        fm = fmax_of(f)
        iterations = int(self.lmp.get_thermo("step") - step0)
        count_force_calls(iterations + 1)
        return MinimizeResult(self.get_positions(), self.energy(), fm, fm <= fmax, iterations)

    # -- energies -----------------------------------------------------------------------------
    def _evaluate(self) -> None:
        if not self._fresh:
            self.lmp.command("run 0 post no")
            count_force_calls()
            self._fresh = True

    def energy(self) -> float:
        self._evaluate()
        return float(self.lmp.get_thermo("pe"))

    def forces(self) -> np.ndarray:
        # fix langevin adds its friction and noise to f at every set-up: forces are the
        # potential's only with the thermostat removed (it is re-created by the next run).
        if isinstance(self._integrator, Langevin):
            self._drop_integrator()
        self._evaluate()
        f = self._gather("f")
        if self._prism is not None:
            f = self._prism.vector_to_ase(f)
        return f

    def calculator(self) -> Calculator:
        return LammpsEAM(self.potential)


class LammpsEAM(Calculator):
    """ASE calculator evaluating an EAM file in its own LAMMPS instance.

    The instance is built at the first call and rebuilt when species, cell or pbc change;
    create one calculator per NEB image.
    """

    implemented_properties = ["energy", "free_energy", "forces"]

    def __init__(self, potential: str | os.PathLike, **kwargs):
        super().__init__(**kwargs)
        self.potential = Path(potential)
        self._engine: LammpsEngine | None = None
        self._key = None

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        key = (
            tuple(self.atoms.numbers),
            tuple(self.atoms.pbc),
            tuple(np.round(self.atoms.cell.array.ravel(), 12)),
        )
        if self._engine is None or key != self._key:
            if self._engine is not None:
                self._engine.close()
            self._engine = LammpsEngine(self.atoms, self.potential)
            self._key = key
        self._engine.set_positions(self.atoms.get_positions())
        e = self._engine.energy()
        self.results = {"energy": e, "free_energy": e, "forces": self._engine.forces()}
