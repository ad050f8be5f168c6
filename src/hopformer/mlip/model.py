"""An attention-based machine-learning interatomic potential (MLANet-style).

Energy E(positions, species, cell) of a free cluster or a periodic cell; forces −∂E/∂x and
the stress (1/V) ∂E/∂ε by autograd, so they are exactly consistent with the energy.

* **Graph:** one directed edge per pair (i, j, image) closer than ``cutoff``; in a periodic
  cell, r_ij = x_j − x_i + S_ij·cell with integer image shifts S
  (:func:`hopformer.physics.structure.neighbours`), so
  the energy does not depend on which image an atom is wrapped into.
* **Radial basis:** Bessel functions √(2/r_c) sin(nπr/r_c)/r times the smooth polynomial
  envelope u(r/r_c) of DimeNet (p = 6): value and slope go to 0 at the cutoff, so the energy
  is smooth as atoms cross it.
  The radial functions R_l(r) of a block's moments are a linear map of this basis, or with
  ``radial_hidden`` > 0 a one-hidden-layer MLP of it (MACE's radial MLP), which resolves the
  steep short-range repulsion met in hot MD better.
* **Angular features:** real spherical harmonics Y_lm(r̂_ij) up to ``lmax`` (≤ 3).
* **Dual-path dynamic attention:** per edge and head, a *geometric* score from the radial
  basis and a *chemical* score from the two atoms' features and species (query·key) are
  mixed by a per-edge gate σ(g_ij) that is itself learned from both; weights are a softmax
  over i's neighbours with a sink, α_ij = u_ij e^{s_ij} / (1 + Σ_k u_ik e^{s_ik}), so an
  edge enters and leaves the sum continuously. With ``attention: sigmoid`` the weights are
  u_ij σ(s_ij) instead, a gated sum that is not normalised over the neighbours, so a moment
  counts neighbours as EAM's density does (MACE's moments are plain sums too).
* **Equivariant aggregation, invariant update:**
  A_i,lm = Σ_j α_ij R_l(r_ij) ⊙ (W h_j) Y_lm(r̂_ij); the layer's new features use only the
  rotation invariants Σ_m A_i,lm² per l and channel (3-body terms: two neighbours and the
  centre). With ``correlation: 3`` also the third-order products vᵀTv and tr T³, v the l = 1
  moment as a vector and T the l = 2 moment as a symmetric traceless matrix
  (:func:`~hopformer.mlip.features.cubic_invariants`): 4-body terms, the order of MACE's
  "correlation 3". Each moment is summed per atom as one batched matrix product over its
  neighbours (:class:`~hopformer.mlip.features.Neighbourhoods`), which the force loss
  differentiates twice at less cost than the edge-by-edge sum.
* **Vector features (``vectors: true``):** each block also passes on a vector feature per
  atom and channel, v_i ← v_i + W A_i,1 (its l = 1 moment, mixed across channels), and the next
  block's messages carry the neighbours' vectors: R(r_ij) v_j · r̂_ij into the l = 0 moment and
  R'(r_ij) v_j into the l = 1 moment (MACE-like equivariant messages, l ≤ 1). The block also
  reads v_i · A_i,1. So a second block sees the directions around each neighbour, not only
  their rotation invariants.
  So E is invariant to rotation, reflection, translation and permutation of same-element
  atoms by construction, and forces are equivariant.
* **Multi-perspective pooling:** E = Σ_i [e_z(i) + ε(h_i)] + N·φ(mean_i h_i) +
  N·Σ_i softmax_i(a(h_i)) ψ(h_i): per-atom sum, mean-field and attention perspectives; every
  term is extensive and permutation invariant. e_z are per-element reference energies fitted
  to the data before training (:meth:`MlipNetwork.fit_reference`).
* **Batches:** configurations concatenated into one disjoint graph (``graph``: each atom's
  configuration) give one energy each, pooled per configuration as above, so a training step
  is one forward and one backward pass.

dtype: float32 or float64 (``.double()``, for MD and finite-difference checks).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from hopformer.ml.layers import edge_mlp, mlp
from hopformer.mlip.features import (
    Neighbourhoods,
    cubic_invariants,
    envelope,
    spherical_harmonics,
)
from hopformer.physics.structure import neighbours


@dataclass(frozen=True)
class MlipConfig:
    cutoff: float = 5.5
    radial: int = 8
    lmax: int = 2
    width: int = 32
    layers: int = 2
    heads: int = 4
    correlation: int = 2
    radial_hidden: int = 0
    vectors: bool = False
    attention: str = "sigmoid"
    species: int = 100

    def __post_init__(self):
        if not 0 <= self.lmax <= 3:
            raise ValueError(f"mlip lmax {self.lmax}: expected 0..3")
        if self.correlation not in (2, 3) or (self.correlation == 3 and self.lmax < 2):
            raise ValueError(
                f"mlip correlation {self.correlation}: expected 2, or 3 with lmax ≥ 2 "
                f"(lmax is {self.lmax})"
            )
        if self.attention not in ("softmax", "sigmoid"):
            raise ValueError(f"mlip attention {self.attention!r}: expected softmax or sigmoid")
        if self.vectors and self.lmax < 1:
            raise ValueError(f"mlip vectors: true needs lmax ≥ 1 (lmax is {self.lmax})")
        if self.radial_hidden < 0:
            raise ValueError(f"mlip radial_hidden {self.radial_hidden}: expected ≥ 0")
        if self.cutoff <= 0 or self.radial < 1 or self.layers < 1 or self.heads < 1:
            raise ValueError(f"mlip config: positive cutoff, radial, layers, heads ({self})")
        if self.width % self.heads:
            raise ValueError(f"mlip width {self.width} must be a multiple of heads {self.heads}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_saved(cls, config: dict) -> MlipConfig:
        """The config a model file was saved with. A key added after files were first
        written reads as what those files were trained with (:data:`LEGACY`), not as
        today's default."""
        return cls(**{**LEGACY, **config})


#: keys a saved config may lack, and the value every model written without them had: the
#: softmax was the only edge weighting before the gated sum became the default
LEGACY = {"attention": "softmax"}


#: the gated sum's divisor: the envelope weights Σ_j u_ij of an atom's neighbours within
#: 5.5 Å are 5–13 (Pt55, median 8; bulk Al 13), so the weights per atom sum to O(1)
SUM_SCALE = 10.0


class _Interaction(nn.Module):
    """One dual-path attention block (see the module doc)."""

    def __init__(self, c: MlipConfig):
        super().__init__()
        self.c = c
        w, h = c.width, c.heads
        self.geo = mlp(c.radial, w, h)
        self.query, self.key = nn.Linear(w, w, bias=False), nn.Linear(w, w, bias=False)
        # the chemistry of the pair itself (species i with species j), per head
        self.pair_q, self.pair_k = nn.Embedding(c.species, w), nn.Embedding(c.species, w)
        self.gate = mlp(c.radial + 2 * w, w, h)
        self.value = nn.Linear(w, w)
        n_filter = w * (c.lmax + 1)
        self.filter = (
            mlp(c.radial, c.radial_hidden, n_filter)
            if c.radial_hidden
            else nn.Linear(c.radial, n_filter)
        )
        cubic = 2 * w if c.correlation == 3 else 0
        if c.vectors:
            # the neighbours' vectors into the l = 0 and l = 1 moments, and the new vectors
            self.vector_in = nn.Linear(w, w, bias=False)
            self.vector_filter = nn.Linear(c.radial, 2 * w)
            self.vector_out = nn.Linear(w, w, bias=False)
        self.update = mlp(w + w * (c.lmax + 1) + cubic + (w if c.vectors else 0), w, w)

    def forward(self, h, v, z, i, j, rbf, sh, env, hood, ylm):
        """New scalar features h (N, C) and, with ``vectors``, vector features v (N, 3, C);
        v is None otherwise. ``hood`` lays the edges out per atom and ``ylm`` are its
        harmonics for l ≥ 1 (:class:`~hopformer.mlip.features.Neighbourhoods`)."""
        c = self.c
        heads, per = c.heads, c.width // c.heads
        q = (self.query(h)[i] + self.pair_q(z)[i]).view(-1, heads, per)
        k = (self.key(h)[j] + self.pair_k(z)[j]).view(-1, heads, per)
        s_chem = (q * k).sum(-1) / math.sqrt(per)
        s_geo = self.geo(rbf)
        g = torch.sigmoid(edge_mlp(self.gate, [rbf, (h, i), (h, j)]))
        score = g * s_geo + (1 - g) * s_chem  # (E, heads)
        alpha = self._weights(score, env, i, hood.atoms)  # (E, heads)
        value = self.value(h)[j].view(-1, heads, per) * alpha[..., None]
        value = value.reshape(-1, c.width)
        # split, not sliced: a slice's derivative would fill the whole filter output per l
        radial = self.filter(rbf).split(c.width, dim=1)
        invariants, moments = [], []
        vector_msgs = self._vector_messages(v, alpha, j, rbf, sh) if c.vectors else ()
        for l in range(c.lmax + 1):  # noqa: E741
            w = radial[l] * value  # (E, C); Y_00 = 1
            if l == 0:
                a = h.new_zeros((hood.atoms, c.width)).index_add(0, i, w)[:, None, :]
            else:
                a = hood.moment(ylm[l - 1], w)
            if l < len(vector_msgs):
                a = a.index_add(0, i, vector_msgs[l])
            invariants.append((a * a).sum(1))
            moments.append(a)
        if c.correlation == 3:
            invariants += cubic_invariants(moments[1], moments[2])
        if not c.vectors:
            return h + self.update(torch.cat([h, *invariants], -1)), None
        invariants.append((v * moments[1]).sum(1))  # v_i · A_i,1
        v = v + self.vector_out(moments[1])
        return h + self.update(torch.cat([h, *invariants], -1)), v

    def _weights(self, score, env, i, n_atoms) -> torch.Tensor:
        """Edge weights α_ij (E, heads): with ``attention: softmax`` a softmax over i's
        neighbours with a sink of weight 1, scaled by the envelope; with ``sigmoid`` the gated
        sum u_ij σ(s_ij) / SUM_SCALE, unnormalised, so that a moment grows with the number of
        neighbours as a density does."""
        if self.c.attention == "sigmoid":
            return env[:, None] * torch.sigmoid(score) / SUM_SCALE
        heads = score.shape[1]
        top = score.new_zeros((n_atoms, heads))
        top = top.scatter_reduce(
            0, i[:, None].expand(-1, heads), score.detach(), "amax", include_self=True
        )
        w_edge = env[:, None] * torch.exp(score - top[i])
        norm = torch.exp(-top).index_add(0, i, w_edge)
        return w_edge / norm[i]

    def _vector_messages(self, v, alpha, j, rbf, sh) -> tuple[torch.Tensor, torch.Tensor]:
        """The neighbours' vectors v_j as messages into the l = 0 moment, R v_j · r̂_ij
        (E, 1, C), and into the l = 1 moment, R' v_j (E, 3, C; Cartesian x, y, z is the order
        of the l = 1 harmonics), each weighted by its head's attention α_ij."""
        c = self.c
        vj = self.vector_in(v)[j]  # (E, 3, C)
        weight = alpha.repeat_interleave(c.width // c.heads, dim=1)  # (E, C): its head's α
        radial = self.vector_filter(rbf).view(-1, 2, c.width) * weight[:, None, :]
        unit = sh[:, 1:4] / math.sqrt(3.0)  # r̂_ij
        along = (vj * unit[:, :, None]).sum(1) * radial[:, 0]
        return along[:, None, :], vj * radial[:, 1, None, :]


class MlipNetwork(nn.Module):
    """See the module doc. ``forward(x, numbers, i, j, offsets)`` returns the energy (eV);
    ``offsets`` (E, 3) are the edges' image offsets shifts·cell in Å (zeros when free)."""

    def __init__(self, config: MlipConfig):
        super().__init__()
        self.config = c = config
        self.embed = nn.Embedding(c.species, c.width)
        self.layers = nn.ModuleList(_Interaction(c) for _ in range(c.layers))
        self.atom_energy = mlp(c.width, c.width, 1)
        self.mean_energy = mlp(c.width, c.width, 1)
        self.attend = nn.Linear(c.width, 1)
        self.attention_energy = mlp(c.width, c.width, 1)
        self.register_buffer("reference", torch.zeros(c.species))  # e_z, eV per atom
        self.register_buffer("scale", torch.ones(()))  # eV: the learned terms' unit
        self.register_buffer("freq", torch.arange(1, c.radial + 1) * math.pi / c.cutoff)

    def bessel(self, r: torch.Tensor) -> torch.Tensor:
        rc = self.config.cutoff
        return math.sqrt(2.0 / rc) * torch.sin(self.freq * r[:, None]) / r[:, None]

    def forward(
        self,
        x: torch.Tensor,
        numbers: torch.Tensor,
        i: torch.Tensor,
        j: torch.Tensor,
        offsets: torch.Tensor,
        graph: torch.Tensor | None = None,
        n_graphs: int = 1,
    ) -> torch.Tensor:
        """The energy (eV) of one configuration, or with ``graph`` (atom → configuration
        index, edges never crossing configurations) the (n_graphs,) energies of a batch."""
        rij = x[j] - x[i] + offsets
        r = rij.norm(dim=-1).clamp_min(1e-9)
        env = envelope(r / self.config.cutoff)
        rbf = self.bessel(r) * env[:, None]
        sh = spherical_harmonics(rij / r[:, None], self.config.lmax)
        n = x.shape[0]
        hood = Neighbourhoods(i, n)
        ylm = hood.harmonics(sh, self.config.lmax)
        h = self.embed(numbers)
        v = h.new_zeros((n, 3, self.config.width)) if self.config.vectors else None
        for layer in self.layers:
            h, v = layer(h, v, numbers, i, j, rbf, sh, env, hood, ylm)
        if graph is None:  # one configuration: a batch of one
            zeros = torch.zeros(n, dtype=torch.long, device=x.device)
            return self._batch_energy(h, numbers, zeros, 1)[0]
        return self._batch_energy(h, numbers, graph, n_graphs)

    def _batch_energy(self, h, numbers, graph, n_graphs: int) -> torch.Tensor:
        """The pooling of the module doc per configuration (segment sums and softmax)."""
        per = lambda v: v.new_zeros((n_graphs, *v.shape[1:])).index_add(0, graph, v)  # noqa: E731
        count = per(torch.ones_like(h[:, 0]))
        mean = per(h) / count[:, None]
        a = self.attend(h).squeeze(-1)
        top = a.new_full((n_graphs,), -torch.inf).scatter_reduce(0, graph, a.detach(), "amax")
        w = torch.exp(a - top[graph])
        pool = w / per(w)[graph]
        learned = (
            per(self.atom_energy(h).squeeze(-1))
            + count * self.mean_energy(mean).squeeze(-1)
            + count * per(pool * self.attention_energy(h).squeeze(-1))
        )
        return per(self.reference[numbers]) + self.scale * learned

    @torch.no_grad()
    def fit_reference(self, numbers: list[np.ndarray], energies: np.ndarray) -> None:
        """Per-element reference energies by least squares (E ≈ Σ_z n_z e_z), and the scale of
        the learned terms from the residual spread per atom."""
        elements = sorted({int(z) for zs in numbers for z in zs})
        counts = np.array([[np.sum(zs == z) for z in elements] for zs in numbers], float)
        coef, *_ = np.linalg.lstsq(counts, np.asarray(energies, float), rcond=None)
        for z, e in zip(elements, coef, strict=True):
            self.reference[z] = float(e)
        resid = (np.asarray(energies) - counts @ coef) / counts.sum(1)
        self.scale.fill_(max(float(np.std(resid)), 1e-3))

    def save(self) -> dict:
        return {"config": self.config.to_dict(), "state": self.state_dict()}

    @classmethod
    def load(cls, saved: dict) -> MlipNetwork:
        model = cls(MlipConfig.from_saved(saved["config"]))
        model.load_state_dict(saved["state"])
        return model


def energy_forces(
    model: MlipNetwork,
    positions: np.ndarray,
    numbers: np.ndarray,
    cell: np.ndarray | None = None,
    stress: bool = False,
    create_graph: bool = False,
    forces: bool = True,
) -> dict:
    """Energy (eV), forces (N, 3) eV/Å and, for a periodic cell with ``stress``, the stress
    (3, 3) eV/Å³ = (1/V) ∂E/∂ε, as torch tensors (differentiable with ``create_graph``).
    ``forces`` False (and no stress): the energy alone, no backward pass (¼ of the cost)."""
    p = next(model.parameters())
    dtype, device = p.dtype, p.device
    i, j, s = neighbours(positions, cell, model.config.cutoff)
    t = lambda a: torch.as_tensor(a, dtype=dtype, device=device)  # noqa: E731
    grad = forces or stress
    x = t(positions).requires_grad_(grad)
    strain = torch.zeros((3, 3), dtype=dtype, device=device, requires_grad=stress)
    deform = torch.eye(3, dtype=dtype, device=device) + strain
    cell_t = t(cell) @ deform if cell is not None else None
    offsets = (
        t(s) @ cell_t if cell is not None else torch.zeros((len(i), 3), dtype=dtype, device=device)
    )
    z = torch.as_tensor(numbers, dtype=torch.long, device=device)
    index = lambda a: torch.as_tensor(a, device=device)  # noqa: E731
    with torch.set_grad_enabled(grad):
        e = model(x @ deform, z, index(i), index(j), offsets)
    if not grad:
        return {"energy": e}
    wrt = [x, strain] if stress else [x]
    grads = torch.autograd.grad(e, wrt, create_graph=create_graph)
    out = {"energy": e, "forces": -grads[0]}
    if stress:
        if cell is None:
            raise ValueError("stress needs a periodic cell")
        volume = abs(float(np.linalg.det(cell)))
        g = grads[1]
        out["stress"] = 0.5 * (g + g.T) / volume
    return out
