"""Validating one transition: both ends minima, a climbing-image NEB split at intermediate
minima, and for one elementary step the Vineyard prefactor (docs/design.md §7).

:func:`validate_pair` is shared by the validation shards and the kinetics stage's event
searches; its ``neb_status`` values are listed in :mod:`hopformer.validation.shard`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from ase.data import atomic_masses

from hopformer.physics.engine import fmax_of
from hopformer.physics.htst import frequencies, hessian, vineyard
from hopformer.physics.neb import Path, minimum_energy_path
from hopformer.physics.relax import Relaxer, start_problem


@dataclass(frozen=True)
class ValidationConfig:
    hint_sizes: tuple[int, ...] = (1, 2, 4)
    samples: int = 4
    surface_hints: int = 4
    images: int = 9
    neb_fmax: float = 0.02
    neb_steps: int = 1000
    hessian_delta: float = 5e-3
    end_fmax: float = 0.01

    def __post_init__(self):
        if not 7 <= self.images <= 11:
            raise ValueError(
                f"validation.images = {self.images}: expected 7..11 (docs/design.md §7)"
            )
        if not self.neb_fmax > 0 or not self.hessian_delta > 0 or not self.end_fmax > 0:
            raise ValueError("validation.neb_fmax, hessian_delta and end_fmax must be positive")
        if min(self.hint_sizes, default=1) < 1:
            raise ValueError(f"validation.hint_sizes = {list(self.hint_sizes)}: expected k ≥ 1")


def spectrum(
    relaxer: Relaxer, numbers: np.ndarray, x: np.ndarray, config: ValidationConfig
) -> np.ndarray:
    engine = relaxer.engine(numbers, x)
    return frequencies(hessian(engine, x, config.hessian_delta), atomic_masses[numbers], x)


def end_problem(relaxer: Relaxer, numbers: np.ndarray, x: np.ndarray, end_fmax: float) -> str:
    """Why ``x`` cannot be an end of a band ('' when it can: no overlap, a minimum)."""
    problem = start_problem(x, numbers=numbers)
    if problem:
        return problem
    engine = relaxer.engine(numbers, x)
    engine.set_positions(x)
    f = fmax_of(engine.forces())
    if f > end_fmax:
        return f"not a minimum (max force {f:.3g} eV/Å > {end_fmax:g})"
    return ""


def validate_pair(
    relaxer: Relaxer,
    numbers: np.ndarray,
    initial: np.ndarray,
    final: np.ndarray,
    config: ValidationConfig,
    freq_initial: Callable[[], np.ndarray] | None = None,
    first_step: bool = False,
) -> dict:
    """NEB + hTST columns of one transition (see the module doc for ``neb_status``);
    ``freq_initial()`` gives the initial minimum's spectrum when a saddle needs it (default:
    computed here). With ``first_step`` a split path's first segment is validated as the
    event (an elementary step out of ``initial`` to the first intermediate minimum, whose
    positions come back as ``product_positions``, and the whole path's ``split_detail``), as the
    kinetics stage needs."""
    out = {
        "neb_status": "rejected",
        "neb_detail": "",
        "neb_segments": 0,
        "neb_steps": 0,
        "saddle_energy": None,
        "barrier": None,
        "reverse_barrier": None,
        "prefactor_thz": None,
        "imaginary_modes": -1,
        "path_images": 0,
        "path_energies": [],
        "path_positions": [],
    }
    for name, x in (("initial", initial), ("final", final)):
        problem = end_problem(relaxer, numbers, x, config.end_fmax)
        if problem:
            out["neb_detail"] = f"{name} end: {problem}"
            return out

    def relax(x: np.ndarray) -> np.ndarray | None:
        res = relaxer.relax(x, numbers)
        return res.positions if res.ok else None

    path: Path = minimum_energy_path(
        relaxer.potential,
        numbers,
        initial,
        final,
        relax,
        lambda a, b: relaxer.same(a, b, numbers),
        images=config.images,
        fmax=config.neb_fmax,
        steps=config.neb_steps,
        vacuum=relaxer.vacuum,
    )
    energies = np.concatenate(
        [s.energies if i == 0 else s.energies[1:] for i, s in enumerate(path.segments)]
    )
    positions = np.concatenate(
        [s.positions if i == 0 else s.positions[1:] for i, s in enumerate(path.segments)]
    )
    out |= {
        "neb_segments": len(path.segments),
        "neb_steps": sum(s.steps for s in path.segments),
        "path_images": len(energies),
        "path_energies": energies - energies[0],
        "path_positions": positions,
    }
    detail = ""
    if path.split:
        detail = f"{len(path.segments) - 1} intermediate minima; segment barriers " + ", ".join(
            f"{s.barrier:.3f} eV ({s.status})" for s in path.segments
        )
        if not first_step:
            out["neb_status"], out["neb_detail"] = "split", detail
            return out
        first = path.segments[0]
        out |= {
            "product_positions": first.positions[-1],
            "split_detail": detail,
            "path_images": len(first.energies),
            "path_energies": first.energies - first.energies[0],
            "path_positions": first.positions,
        }
        detail = f"first segment of a split path ({detail})"
    band = path.segments[0]
    if band.status != "ok":
        # An interior minimum that relaxed into an end, with no maximum above both ends, is a
        # band without a saddle too.
        out["neb_status"] = "unconverged" if band.status == "unconverged" else "no_saddle"
        out["neb_detail"] = (
            band.note
            or {
                "unconverged": f"band not converged to {band.fmax} eV/Å in {band.steps} steps",
                "no_saddle": "no interior maximum above both ends",
                "intermediate_minimum": "no interior maximum above both ends; an interior minimum"
                " relaxes into an end",
            }[band.status]
        )
        return out
    out["neb_status"], out["neb_detail"] = "ok", detail
    saddle = band.positions[band.saddle]
    out |= {
        "saddle_energy": float(band.energies.max()),
        "barrier": band.barrier,
        "reverse_barrier": band.reverse_barrier,
    }
    at_minimum = freq_initial() if freq_initial else spectrum(relaxer, numbers, initial, config)
    v = vineyard(at_minimum, spectrum(relaxer, numbers, saddle, config))
    out["imaginary_modes"] = v.imaginary
    if v.prefactor is None:
        out["neb_status"], out["neb_detail"] = "not_first_order", v.reason
        out["barrier"] = out["reverse_barrier"] = out["saddle_energy"] = None
        return out
    out["prefactor_thz"] = v.prefactor
    return out
