"""Direct trajectory prediction (MDtrajNet-1-style), for a free cluster.

(positions, velocities, species, Δt) → positions and velocities at t + Δt, for any Δt up to
``horizon_fs``: no forces, no integration steps. The network is the equivariant attention
core of :class:`~hopformer.surrogates.integrator.DisplacementIntegrator` on the cluster's
radius graph (no cell), with Δt entering as a sinusoidal embedding added to every atom's
features, in the free-flight term Δt v_i, and as a factor Δt/horizon on the learned
corrections — so Δt = 0 returns the input exactly, and the outputs rotate, translate and
permute with the inputs; with ``galilean``, NVE steps are also invariant under a velocity
common to every atom (the core's module doc). With ``tie_corrections`` a short step's
position departs from free flight by ½ Δt Δv, one learned acceleration for both outputs
(docs/design.md §13); with ``leapfrog`` an NVE step is drift–kick–drift instead, the kick read
at the midpoint's positions alone, as the integrator's. Long trajectories chain predictions:
each segment's last frame seeds the next.

Ensembles: the model is told whether the dynamics is Newtonian (NVE) or Langevin (a learned
offset of every atom's features under Langevin). Langevin dynamics is stochastic, so a
deterministic network can only learn its mean — the friction without the kicks. A Langevin
chain therefore adds the thermostat's own noise to each predicted velocity: the
Ornstein–Uhlenbeck variance (k_B T / m)(1 − e^{−2Δt/τ}) of friction time τ over Δt, seeded,
so its temperature holds.

NVE chains have no thermostat to hold them, and a learned map is not symplectic: left alone
it pumps energy in or drains it out. The model therefore also learns the cluster's potential
energy (:meth:`TrajectoryPredictor.energy`), and an NVE chain keeps that energy plus the
kinetic energy at its starting value (``conserve_energy``), or another potential's energy
where :func:`chain` is given one (docs/design.md §13). Momentum is
conserved by construction in NVE steps (``conserve_momentum``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from hopformer.physics.md import masses_of
from hopformer.physics.structure import neighbours
from hopformer.surrogates.integrator import (
    DisplacementIntegrator,
    IntegratorConfig,
    hold_energy,
    kinetic_energy,
)
from hopformer.surrogates.metrics import K_B_AMU_A2_FS2, temperature


@dataclass(frozen=True)
class PredictorConfig:
    horizon_fs: float = 100.0
    cutoff: float = 4.0
    width: int = 32
    layers: int = 3
    radial: int = 16
    frequencies: int = 8
    conserve_momentum: bool = True
    conserve_angular_momentum: bool = True
    conserve_energy: bool = True
    taper_start: float = 0.0
    tie_corrections: bool = False
    smooth_attention: bool = False
    galilean: bool = False
    leapfrog: bool = False

    def __post_init__(self):
        if self.horizon_fs <= 0 or self.frequencies < 1:
            raise ValueError(f"predictor config: positive horizon and frequencies ({self})")
        if self.leapfrog and self.tie_corrections:
            raise ValueError(
                "predictor config: leapfrog already ties the position to the velocity change "
                "(Δx = Δt v + ½ Δt Δv); set tie_corrections: false"
            )


class TrajectoryPredictor(nn.Module):
    """See the module doc. ``forward(x, v, numbers, i, j, dt)`` returns (x(t+Δt), v(t+Δt))."""

    def __init__(self, config: PredictorConfig):
        super().__init__()
        self.config = config
        self.core = DisplacementIntegrator(
            IntegratorConfig(
                stride_fs=config.horizon_fs,
                cutoff=config.cutoff,
                width=config.width,
                layers=config.layers,
                radial=config.radial,
                conserve_momentum=config.conserve_momentum,
                taper_start=config.taper_start,
                smooth_attention=config.smooth_attention,
                galilean=config.galilean,
            )
        )
        self.time = nn.Linear(2 * config.frequencies, config.width)
        # Langevin's learned feature offset (NVE is the reference, none)
        self.langevin = nn.Parameter(torch.zeros(config.width))
        self.register_buffer("omegas", torch.pi * torch.arange(1, config.frequencies + 1))

    def forward(
        self,
        x: torch.Tensor,
        v: torch.Tensor,
        numbers: torch.Tensor,
        i: torch.Tensor,
        j: torch.Tensor,
        dt: float,
        langevin: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= dt <= self.config.horizon_fs:
            raise ValueError(f"Δt {dt} fs outside 0..{self.config.horizon_fs} fs (the horizon)")
        phase = self.omegas * (dt / self.config.horizon_fs)
        embed = self.time(torch.cat([torch.sin(phase), torch.cos(phase) - 1.0]).to(x.dtype))
        if langevin:
            embed = embed + self.langevin
        offsets = torch.zeros((len(i), 3), dtype=x.dtype, device=x.device)
        scale, extra = dt / self.config.horizon_fs, embed.expand(len(x), -1)
        if self.config.leapfrog and not langevin:
            # drift–kick–drift as the integrator's leapfrog: the kick reads the midpoint's
            # positions with no velocity (the graph built at x serves there), so the step run
            # backwards lands on its start. Langevin steps stay plain: friction needs v.
            mid = x + 0.5 * dt * v
            _, dv = self.core.step(
                mid, torch.zeros_like(v), numbers, i, j, offsets, dt, extra, scale
            )
            dx = dt * v + 0.5 * dt * dv
        else:
            # Corrections grow with Δt: at Δt = 0 the prediction is the input itself.
            dx, dv = self.core.step(
                x,
                v,
                numbers,
                i,
                j,
                offsets,
                dt,
                extra,
                scale=scale,
                conserve=not langevin,  # friction damps the centre of mass too
            )
            if self.config.tie_corrections:
                # Over a short Δt the position's departure from free flight is half the
                # velocity change times Δt (½ a Δt²), so one learned acceleration serves both.
                # The tie fades as Δt nears the horizon, where a vibration has turned and the
                # relation fails; the position's own correction takes over (docs/design.md §13).
                dx = dt * v + (1.0 - scale) * 0.5 * dt * dv + scale * (dx - dt * v)
        nx, nv = x + dx, v + dv
        if self.config.conserve_angular_momentum and not langevin:
            nv = keep_angular_momentum(x, v, nx, nv, self.core.masses[numbers].to(x.dtype))
        return nx, nv

    def energy(self, x, numbers, i, j) -> torch.Tensor:
        """The learned potential energy (eV) of the cluster at positions ``x``."""
        return self.core.energy(x, numbers, i, j, torch.zeros((len(i), 3), dtype=x.dtype))

    def save(self) -> dict:
        return {"config": asdict(self.config), "state": self.state_dict()}


def _angular(x: torch.Tensor, v: torch.Tensor, w: torch.Tensor):
    """(angular momentum about the centre of mass, positions about it) of masses ``w`` (N, 1)."""
    r = x - (w * x).sum(0) / w.sum()
    return (w * torch.linalg.cross(r, v)).sum(0), r


def keep_angular_momentum(x0, v0, x1, v1, masses: torch.Tensor) -> torch.Tensor:
    """Velocities ``v1`` at ``x1`` less the rigid rotation ω × r (I ω = the change of angular
    momentum since (x0, v0)): the free cluster's angular momentum is conserved by construction,
    with the least kinetic energy taken, and its linear momentum is untouched (Σ m ω × r = 0)."""
    w = masses[:, None]
    before, _ = _angular(x0, v0, w)
    after, r = _angular(x1, v1, w)
    eye = torch.eye(3, dtype=r.dtype, device=r.device)
    inertia = (
        w[..., None] * ((r * r).sum(1)[:, None, None] * eye - r[:, :, None] * r[:, None])
    ).sum(0)
    # pseudo-inverse: a dimer (or a lone atom) cannot turn about its own axis
    omega = torch.linalg.pinv(inertia, hermitian=True) @ (after - before)
    return v1 - torch.linalg.cross(omega.expand_as(r), r)


class Stepper:
    """Predictions and learned energies of one ``model`` for one cluster (``numbers``), numpy
    in and out, in the model's dtype: the graph of the last positions seen is kept, so a
    chain that holds on the learned energy at a step's end reuses that graph for the next
    step, one neighbour search per step. Positions and velocities come back as the float64
    inputs plus the model's changes, so a float32 model's rounding does not accumulate in the
    state. With ``compile`` the model's two entry points go through ``torch.compile``
    (inductor, dynamic edge counts; a C++ compiler is needed): the first call of each costs
    about a minute, later ones run ~2.4× faster on a CPU (docs/design.md §13)."""

    def __init__(self, model: TrajectoryPredictor, numbers: np.ndarray, compile: bool = False):
        self.config = model.config
        self.dtype = next(model.parameters()).dtype
        self.numbers = torch.as_tensor(numbers, dtype=torch.long)
        self._forward = torch.compile(model, dynamic=True) if compile else model
        self._energy = torch.compile(model.energy, dynamic=True) if compile else model.energy
        self._seen: np.ndarray | None = None

    def _graph(self, x: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        if self._seen is None or not np.array_equal(self._seen, x):
            i, j, _ = neighbours(x, None, self.config.cutoff)
            self._seen, self._edges = x.copy(), (torch.as_tensor(i), torch.as_tensor(j))
        return self._edges

    def predict(
        self, x: np.ndarray, v: np.ndarray, dt: float, langevin: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        i, j = self._graph(x)
        xt, vt = torch.as_tensor(x, dtype=self.dtype), torch.as_tensor(v, dtype=self.dtype)
        with torch.no_grad():
            nx, nv = self._forward(xt, vt, self.numbers, i, j, dt, langevin)
        return x + (nx - xt).double().numpy(), v + (nv - vt).double().numpy()

    def energy(self, x: np.ndarray) -> float:
        i, j = self._graph(x)
        with torch.no_grad():
            return float(self._energy(torch.as_tensor(x, dtype=self.dtype), self.numbers, i, j))


def predict(
    model: TrajectoryPredictor,
    x: np.ndarray,
    v: np.ndarray,
    numbers: np.ndarray,
    dt: float,
    langevin: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Positions and velocities Δt fs later (numpy in and out); for ``langevin``, the mean."""
    return Stepper(model, numbers).predict(np.asarray(x, float), np.asarray(v, float), dt, langevin)


def potential_energy(model: TrajectoryPredictor, x: np.ndarray, numbers: np.ndarray) -> float:
    """The model's learned potential energy (eV) of positions ``x``."""
    return Stepper(model, numbers).energy(np.asarray(x, float))


@dataclass(frozen=True)
class Thermostat:
    """The Langevin thermostat a chain reproduces: temperature (K), friction time (fs), seed,
    and the noise added to each predicted mean velocity: ``ou``, the Ornstein–Uhlenbeck
    variance (k_B T / m)(1 − e^{−2Δt/τ}), exact for a free particle; or ``matched``, the
    variance the mean lacks of the thermostat's, (k_B T / m)(1 − T_mean / T), the same
    fraction for every atom — what the law of total variance leaves to the noise when the mean
    is the true conditional mean, for vibrating atoms too (none when the mean is already hot)."""

    temperature: float
    damping_fs: float
    seed: int = 0
    noise: str = "ou"

    def __post_init__(self):
        if self.noise not in ("ou", "matched"):
            raise ValueError(f"Langevin noise: 'ou' or 'matched', got {self.noise!r}")

    def sigma(self, v: np.ndarray, masses: np.ndarray, dt: float) -> np.ndarray:
        """(N, 1) standard deviations of the noise added to mean velocities ``v`` (Å/fs)."""
        thermal = K_B_AMU_A2_FS2 * self.temperature / masses
        if self.noise == "ou":
            fraction = -np.expm1(-2.0 * dt / self.damping_fs)
        else:
            fraction = max(0.0, 1.0 - float(temperature(v, masses)) / self.temperature)
        return np.sqrt(thermal * fraction)[:, None]


def chain(
    model: TrajectoryPredictor,
    x: np.ndarray,
    v: np.ndarray,
    numbers: np.ndarray,
    dt: float,
    segments: int,
    thermostat: Thermostat | None = None,
    energy: Callable[[np.ndarray], float] | None = None,
    hold_every: int = 1,
    compile: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """(segments + 1, N, 3) positions and velocities from chained predictions of Δt each;
    with a ``thermostat``, Langevin dynamics (the predicted mean plus the thermostat's noise).
    Without one (NVE), the velocities are rescaled about the centre of mass after every
    ``hold_every``-th step so that the potential energy plus the kinetic energy is what it was
    at the start (:func:`hold_energy`): the potential energy is ``energy`` (positions → eV,
    e.g. another potential's) where given, else the model's learned one if its config has
    ``conserve_energy``; with neither, nothing is held. ``compile``: see :class:`Stepper`."""
    if hold_every < 1:
        raise ValueError(f"hold_every: a positive number of steps, got {hold_every}")
    xs, vs = [np.asarray(x, float)], [np.asarray(v, float)]
    masses = masses_of(numbers)
    step = Stepper(model, numbers, compile)
    hold = thermostat is None and (energy is not None or model.config.conserve_energy)
    angular = model.config.conserve_angular_momentum
    if energy is None:
        energy = step.energy
    if hold:
        total = energy(xs[0]) + kinetic_energy(vs[0], masses)
    if thermostat is not None:
        rng = np.random.default_rng(thermostat.seed)
    for n in range(1, segments + 1):
        nx, nv = step.predict(xs[-1], vs[-1], dt, thermostat is not None)
        if thermostat is not None:
            nv = nv + thermostat.sigma(nv, masses, dt) * rng.standard_normal(nv.shape)
        if hold and n % hold_every == 0:
            # with the angular momentum conserved the hold keeps the rigid rotation too
            nv = hold_energy(nv, masses, total - energy(nx), nx if angular else None)
        xs.append(nx)
        vs.append(nv)
    return np.array(xs), np.array(vs)
