"""GNN displacement integrator (arXiv 2512.21822-style).

Given positions x (N, 3) Å, velocities v (N, 3) Å/fs, species and a periodic cell, the network
predicts every atom's displacement Δx and velocity change Δv over one fixed stride τ; a
rollout applies them repeatedly (x wrapped back into the cell). No forces, no integration.

Graph: atoms within ``cutoff`` of each other under periodic boundary conditions, one directed
edge per (i, j, image) — the minimum image and further images alike, so small cells work
(:func:`hopformer.physics.structure.neighbours`). Edge vectors r_ij = x_j − x_i + S_ij·cell
are recomputed in torch from the positions, so they carry gradients and rotate with the
inputs.

Equivariance by construction (rotation, reflection, translation, permutation): layers see
only invariants — species, |v_i|, |r_ij| (radial basis with a smooth cutoff), v_i·r̂_ij,
v_j·r̂_ij, v_i·v_j — and the outputs are sums of vectors with invariant weights:

    Δx_i = a_i τ v_i + Σ_j w_ij r̂_ij ,    Δv_i = b_i v_i + Σ_j u_ij r̂_ij .

Message passing with attention: each layer weighs the messages of i's neighbours by a
softmax over them of a learned score of (h_i, h_j, e_ij). A plain softmax gives an edge its
full share the moment it enters the cutoff, so every feature jumps there; with
``smooth_attention`` each edge's weight is its envelope times e^score, normalised together
with one null edge of score 0, so an edge enters and leaves at zero weight and the features,
and an energy learned from them, are continuous in the positions (docs/design.md §13).

With ``galilean`` the step is also invariant under a common velocity added to every atom (as
Newton's is: forces depend on positions, and the step's velocity terms on relative velocities
only): the layers see v_j − v_i instead of v_i and v_j, and the outputs are

    Δx_i = τ v_i + Σ_j (w_ij r̂_ij + c_ij τ (v_j − v_i)) ,
    Δv_i = Σ_j (u_ij r̂_ij + d_ij (v_j − v_i)) .

A long-wavelength vibration moves neighbours together, so locally it looks like a translation;
a step that answers a translation with a velocity change pumps or drains that mode with no
force to resist it (docs/design.md §13).

With ``tie_corrections`` the displacement is tied to the velocity change, Δx_i = τ v_i + ½ τ Δv_i
(the positions move with the mean of the velocities before and after, as velocity Verlet's do):
one learned acceleration per atom serves both outputs, which a fixed short stride allows
(docs/design.md §13).

With ``leapfrog`` the step is drift–kick–drift: the positions move half a stride with v, the
velocities change by the network's Δv read at those midpoint positions with every velocity set
to zero (a learned kick, a function of positions alone), and the positions move the other half
with the new velocities: Δx = τ v + ½ τ Δv. Whatever the kick, the step run backwards from its
end with velocities flipped returns to its start, and it keeps phase-space volume, so it cannot
contract toward a colder state the way a dissipative map does; a kick that is not the gradient
of an energy can still feed energy in slowly (docs/design.md §13).

Momentum is conserved by construction (``conserve_momentum``): the step's total momentum
change Σ m_i Δv_i is removed evenly per unit mass, and the centre of mass moves by exactly
τ V_cm — so the system cannot start to drift or accelerate as a whole, however long the
rollout. A network left free to do so turns part of its kinetic energy into centre-of-mass
motion, which the temperature (of the internal motion) then misreads.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch
from ase.data import atomic_masses
from torch import nn

from hopformer.ml.layers import edge_mlp, mlp
from hopformer.physics.md import masses_of
from hopformer.physics.structure import neighbours
from hopformer.surrogates.metrics import AMU_A2_FS2_IN_EV, rigid_rotation


@dataclass(frozen=True)
class IntegratorConfig:
    stride_fs: float = 10.0
    cutoff: float = 4.5
    width: int = 32
    layers: int = 2
    radial: int = 16
    species: int = 100
    conserve_momentum: bool = True
    taper_start: float = 0.0
    #: weigh each edge's attention by its cutoff envelope, against a null edge (see module doc)
    smooth_attention: bool = False
    #: Δx = τ v + ½ τ Δv: one learned acceleration for both outputs (see module doc)
    tie_corrections: bool = False
    #: velocities enter only as v_j − v_i: invariant under a common velocity (see module doc)
    galilean: bool = False
    #: drift–kick–drift: Δv read at the midpoint positions alone, reversible (see module doc)
    leapfrog: bool = False

    def __post_init__(self):
        if self.cutoff <= 0 or self.stride_fs <= 0 or self.width < 1 or self.layers < 1:
            raise ValueError(f"integrator config: positive cutoff, stride, width, layers ({self})")
        if not 0.0 <= self.taper_start < self.cutoff:
            raise ValueError(
                f"taper_start {self.taper_start} Å: expected 0 ≤ taper_start < cutoff "
                f"({self.cutoff} Å)"
            )


class _AttentionLayer(nn.Module):
    def __init__(self, width: int, edge: int):
        super().__init__()
        self.score = mlp(2 * width + edge, width, 1)
        self.message = mlp(width + edge, width, width)
        self.update = mlp(2 * width, width, width)

    def forward(
        self,
        h: torch.Tensor,
        i: torch.Tensor,
        j: torch.Tensor,
        e: torch.Tensor,
        envelope: torch.Tensor | None = None,
    ) -> torch.Tensor:
        score = edge_mlp(self.score, [(h, i), (h, j), e]).squeeze(-1)
        # softmax over each receiver's edges (stabilised by the receiver's largest score);
        # with an ``envelope``, weighted by it beside a null edge of score 0
        start = -torch.inf if envelope is None else 0.0
        top = torch.full((h.shape[0],), start, dtype=h.dtype, device=h.device)
        top = top.scatter_reduce(0, i, score, reduce="amax", include_self=True)
        weight = torch.exp(score - top[i])
        if envelope is None:
            norm = torch.zeros(h.shape[0], dtype=h.dtype, device=h.device)
        else:
            weight = weight * envelope
            norm = torch.exp(-top)  # the null edge's e^(0 − top)
        norm = norm.index_add(0, i, weight)
        alpha = weight / norm[i].clamp_min(1e-12)
        agg = torch.zeros_like(h).index_add(
            0, i, alpha[:, None] * edge_mlp(self.message, [(h, j), e])
        )
        return h + self.update(torch.cat([h, agg], -1))


class DisplacementIntegrator(nn.Module):
    """See the module doc. ``forward`` returns (Δx, Δv), each (N, 3)."""

    def __init__(self, config: IntegratorConfig):
        super().__init__()
        self.config = config
        c = config
        self.embed = nn.Embedding(c.species, c.width)
        self.speed = nn.Linear(c.radial, c.width)
        edge = c.radial + 3
        self.layers = nn.ModuleList(_AttentionLayer(c.width, edge) for _ in range(c.layers))
        self.node_out = mlp(c.width, c.width, 2)  # a_i, b_i
        # w_ij, u_ij (and c_ij, d_ij on the relative velocity with ``galilean``)
        self.edge_out = mlp(2 * c.width + edge, c.width, 4 if c.galilean else 2)
        self.energy_out = mlp(c.width, c.width, 1)  # per-atom potential energy
        self.register_buffer("energy_offset", torch.zeros((), dtype=torch.float64))
        self.register_buffer("centres", torch.linspace(0.0, c.cutoff, c.radial))
        self.register_buffer("speeds", torch.linspace(0.0, 0.05, c.radial))  # Å/fs
        masses = torch.as_tensor(atomic_masses[: c.species], dtype=torch.float64)
        self.register_buffer("masses", masses, persistent=False)

    def _smooth(self, r: torch.Tensor) -> torch.Tensor:
        """1 up to ``taper_start``, falling by a cosine to 0 at the cutoff: edges enter and
        leave gently. With ``taper_start`` 0 the fall begins at r = 0, which leaves a Pt
        cluster's second neighbour shell (3.9 Å) almost no weight under a 4–4.5 Å cutoff."""
        start, cut = self.config.taper_start, self.config.cutoff
        phase = (r.clamp(start, cut) - start) / (cut - start)
        return 0.5 * (torch.cos(math.pi * phase) + 1.0)

    def _radial(self, r: torch.Tensor, smooth: torch.Tensor) -> torch.Tensor:
        """Gaussian radial basis of |r_ij| times the edges' envelope ``smooth``."""
        width = self.config.cutoff / self.config.radial
        basis = torch.exp(-(((r[:, None] - self.centres) / width) ** 2))
        return basis * smooth[:, None]

    def forward(
        self,
        x: torch.Tensor,
        v: torch.Tensor,
        numbers: torch.Tensor,
        cell: torch.Tensor,
        i: torch.Tensor,
        j: torch.Tensor,
        shifts: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        tau = self.config.stride_fs
        if self.config.leapfrog:
            # the kick sees the midpoint's positions only: the graph built at x serves there
            # (half a stride moves an atom ~0.05 Å, and edges fade to nothing at the cutoff)
            mid = x + 0.5 * tau * v
            _, dv = self.step(mid, torch.zeros_like(v), numbers, i, j, shifts @ cell, tau)
            return tau * v + 0.5 * tau * dv, dv
        dx, dv = self.step(x, v, numbers, i, j, shifts @ cell, tau)
        if self.config.tie_corrections:
            # the centre of mass still moves by τ V_cm: the conserved Δv sums to no momentum
            dx = tau * v + 0.5 * tau * dv
        return dx, dv

    def features(self, x, v, numbers, i, j, offsets, extra=None):
        """(node features h, edge features e, |r_ij|, r̂_ij) after the attention layers."""
        rij = x[j] - x[i] + offsets
        r = rij.norm(dim=-1).clamp_min(1e-9)
        u = rij / r[:, None]
        smooth = self._smooth(r)
        # Invariant edge features; velocity products scaled to O(1) (thermal v ~ 0.05 Å/fs).
        if self.config.galilean:
            # relative velocities only; a node's speed is its speed about its neighbourhood
            w = v[j] - v[i]
            along = (w * u).sum(-1, keepdim=True)
            velocity = [20 * along, 400 * (w * w).sum(-1, keepdim=True), 400 * along**2]
            weight = torch.zeros(len(x), dtype=x.dtype, device=x.device).index_add(0, i, smooth)
            own = _gather(v, i, smooth[:, None] * w) / weight.clamp_min(1e-12)[:, None]
        else:
            velocity = [
                20 * (v[i] * u).sum(-1, keepdim=True),
                20 * (v[j] * u).sum(-1, keepdim=True),
                400 * (v[i] * v[j]).sum(-1, keepdim=True),
            ]
            own = v
        e = torch.cat([self._radial(r, smooth), *velocity], -1)
        speed_width = 0.05 / self.config.radial
        speed = torch.exp(-(((own.norm(dim=-1)[:, None] - self.speeds) / speed_width) ** 2))
        h = self.embed(numbers) + self.speed(speed)
        if extra is not None:
            h = h + extra
        envelope = smooth if self.config.smooth_attention else None
        for layer in self.layers:
            h = layer(h, i, j, e, envelope)
        return h, e, r, u

    def energy(self, x, numbers, i, j, offsets) -> torch.Tensor:
        """The learned potential energy (eV) of positions ``x``: the same layers at rest
        (v = 0), summed over atoms from the per-atom offset set by training."""
        h = self.features(x, torch.zeros_like(x), numbers, i, j, offsets)[0]
        return len(x) * self.energy_offset + 0.1 * self.energy_out(h).sum()

    def step(
        self,
        x: torch.Tensor,
        v: torch.Tensor,
        numbers: torch.Tensor,
        i: torch.Tensor,
        j: torch.Tensor,
        offsets: torch.Tensor,
        tau: float | torch.Tensor,
        extra: torch.Tensor | None = None,
        scale: float = 1.0,
        conserve: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(Δx, Δv) over time ``tau`` fs; ``offsets`` (E, 3) are the edges' image offsets in Å
        (zeros for a free cluster); ``extra`` (N, width) is added to the node features; the
        learned corrections are multiplied by ``scale`` (0 makes the step free flight);
        ``conserve`` False lets the momentum change (a thermostat's friction does) and, in a
        ``galilean`` network, lets each atom's own velocity back into Δv: friction is the one
        force that sees the lab frame."""
        h, e, r, u = self.features(x, v, numbers, i, j, offsets, extra)
        ab = self.node_out(h)
        wu = edge_mlp(self.edge_out, [(h, i), (h, j), e]) * self._smooth(r)[:, None]
        # Free flight (τ v) is the leading term: the network learns the correction.
        if self.config.galilean:
            rel = v[j] - v[i]
            along_x = 0.1 * wu[:, :1] * u + 0.1 * tau * wu[:, 2:3] * rel
            dx = tau * v + scale * _gather(v, i, along_x)
            dv = scale * _gather(v, i, 0.01 * wu[:, 1:2] * u + 0.1 * wu[:, 3:4] * rel)
            if not conserve:  # a thermostat's friction acts in the lab frame
                dv = dv + scale * ab[:, 1:2] * v
        else:
            dx = (1.0 + scale * ab[:, :1]) * tau * v + scale * _gather(v, i, 0.1 * wu[:, :1] * u)
            dv = scale * (ab[:, 1:2] * v + _gather(v, i, 0.01 * wu[:, 1:2] * u))
        if conserve and self.config.conserve_momentum:
            dx, dv = _conserve_momentum(dx, dv, v, self.masses[numbers].to(v.dtype), tau)
        return dx, dv

    def save(self) -> dict:
        return {"config": asdict(self.config), "state": self.state_dict()}


def _gather(v: torch.Tensor, i: torch.Tensor, per_edge: torch.Tensor) -> torch.Tensor:
    """Per-edge vectors (E, 3) summed onto their receivers i, one row per atom of ``v``."""
    return torch.zeros_like(v).index_add(0, i, per_edge)


def _conserve_momentum(dx, dv, v, masses, tau):
    """(Δx, Δv) with the total momentum change removed and the centre of mass moved by τ V_cm."""
    w = (masses / masses.sum())[:, None]
    dv = dv - (w * dv).sum(0)
    dx = dx - (w * (dx - tau * v)).sum(0)
    return dx, dv


def _tensors(x, v, numbers, cell, cutoff, dtype=torch.float64):
    i, j, s = neighbours(x, cell, cutoff)
    t = lambda a: torch.as_tensor(a, dtype=dtype)  # noqa: E731
    return (
        t(x),
        t(v),
        torch.as_tensor(numbers, dtype=torch.long),
        t(cell),
        torch.as_tensor(i),
        torch.as_tensor(j),
        t(s),
    )


def predict(
    model: DisplacementIntegrator,
    x: np.ndarray,
    v: np.ndarray,
    numbers: np.ndarray,
    cell: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(Δx, Δv) over one stride for one configuration (numpy in and out)."""
    dtype = next(model.parameters()).dtype
    with torch.no_grad():
        dx, dv = model(*_tensors(x, v, numbers, cell, model.config.cutoff, dtype))
    return dx.numpy(), dv.numpy()


def kinetic_energy(v: np.ndarray, masses: np.ndarray) -> float:
    """eV of velocities (N, 3) in Å/fs."""
    return float(0.5 * (masses[:, None] * v**2).sum() * AMU_A2_FS2_IN_EV)


def hold_energy(
    v: np.ndarray, masses: np.ndarray, kinetic: float, positions: np.ndarray | None = None
) -> np.ndarray:
    """Velocities whose motion about the centre of mass is rescaled so that the total kinetic
    energy is ``kinetic`` eV (the centre of mass keeps its velocity; none is left if even that
    exceeds it). With a free cluster's ``positions`` its rigid rotation is kept too, and only
    the motion left (the vibrations) is rescaled: the hold conserves the angular momentum."""
    vcm = (masses[:, None] * v).sum(0) / masses.sum()
    rigid = np.broadcast_to(vcm, v.shape)
    if positions is not None:
        rigid = rigid + rigid_rotation(positions, v - vcm, masses)
    internal = kinetic_energy(v - rigid, masses)
    room = kinetic - kinetic_energy(rigid, masses)
    if internal <= 0:
        return v
    return rigid + (v - rigid) * np.sqrt(max(room, 0.0) / internal)


def rollout(
    model: DisplacementIntegrator,
    x: np.ndarray,
    v: np.ndarray,
    numbers: np.ndarray,
    cell: np.ndarray,
    strides: int,
    energy: Callable[[np.ndarray], float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Positions and velocities (strides + 1, N, 3) from chaining predictions; positions are
    wrapped back into the cell after each stride (the graph is rebuilt every stride). With
    ``energy`` (positions → potential energy, eV), each stride's velocities are rescaled about
    the centre of mass so that it plus the kinetic energy keeps its starting value
    (:func:`hold_energy`; docs/design.md §13)."""
    xs, vs = [np.asarray(x, float)], [np.asarray(v, float)]
    inv = np.linalg.inv(cell)
    masses = masses_of(numbers)
    if energy is not None:
        total = energy(xs[0]) + kinetic_energy(vs[0], masses)
    for _ in range(strides):
        dx, dv = predict(model, xs[-1], vs[-1], numbers, cell)
        nx = xs[-1] + dx
        nx -= np.floor(nx @ inv) @ cell
        nv = vs[-1] + dv
        if energy is not None:
            nv = hold_energy(nv, masses, total - energy(nx))
        xs.append(nx)
        vs.append(nv)
    return np.array(xs), np.array(vs)
