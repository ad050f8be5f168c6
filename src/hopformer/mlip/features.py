"""The MLIP's geometric features (docs/design.md §12): the radial envelope, real spherical
harmonics, the third-order invariants of the moments, and the per-atom layout of the edges
that turns a moment's sum over neighbours into one batched matrix product.

A moment A_i,lm = Σ_j Y_lm(r̂_ij) w_l(ij) summed edge by edge needs the (edges, 2l+1, channels)
outer products in memory, and the force loss differentiates through them twice. Laid out per
atom, padded with zeros to the largest neighbourhood K, the same sum is one product of an
(atoms, 2l+1, K) by an (atoms, K, channels) tensor, whose derivatives are products too:
a training step of the default model is about a fifth faster, and the values are the same sum
in another order.
"""

from __future__ import annotations

import math

import torch


class Neighbourhoods:
    """Edges grouped by their centre atom i: edge e is slot s of atom i_e, so that an edge
    tensor (E, C) lays out as (atoms, K, C), K the largest number of neighbours, the empty
    slots zero. Edges may come in any order."""

    def __init__(self, i: torch.Tensor, n_atoms: int):
        counts = torch.bincount(i, minlength=n_atoms)
        self.atoms = n_atoms
        self.width = int(counts.max()) if len(i) else 0
        starts = torch.cumsum(counts, 0) - counts
        order = torch.argsort(i, stable=True)
        slot = torch.empty_like(i)
        slot[order] = torch.arange(len(i), device=i.device) - starts[i[order]]
        self.index = i * self.width + slot

    def pad(self, t: torch.Tensor) -> torch.Tensor:
        """(E, C) edge values as (atoms, K, C)."""
        rows = t.new_zeros((self.atoms * self.width, t.shape[1]))
        return rows.index_copy(0, self.index, t).view(self.atoms, self.width, t.shape[1])

    def harmonics(self, sh: torch.Tensor, lmax: int) -> list[torch.Tensor]:
        """Each l's harmonics laid out for :meth:`moment`: (atoms, 2l+1, K) for l ≥ 1."""
        return [
            self.pad(sh[:, l * l : (l + 1) ** 2]).transpose(1, 2).contiguous()
            for l in range(1, lmax + 1)  # noqa: E741
        ]

    def moment(self, ylm: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """A_i,m,c = Σ_j Y_m(r̂_ij) w_c(ij), (atoms, 2l+1, C), for one l ≥ 1: ``ylm`` from
        :meth:`harmonics`, ``w`` (E, C) the edges' weights."""
        return torch.bmm(ylm, self.pad(w))


def envelope(d: torch.Tensor, p: int = 6) -> torch.Tensor:
    """DimeNet's polynomial cutoff u(d), d = r/r_c: u(0) = 1, u(1) = u'(1) = u''(1) = 0."""
    d = d.clamp(0.0, 1.0)
    return (
        1.0
        - (p + 1) * (p + 2) / 2 * d**p
        + p * (p + 2) * d ** (p + 1)
        - p * (p + 1) / 2 * d ** (p + 2)
    )


def spherical_harmonics(u: torch.Tensor, lmax: int) -> torch.Tensor:
    """Real spherical harmonics of unit vectors u (E, 3) up to ``lmax`` ≤ 3, (E, (lmax+1)²),
    normalised so that Σ_m Y_lm² = 2l + 1."""
    x, y, z = u[:, 0], u[:, 1], u[:, 2]
    out = [torch.ones_like(x)]
    if lmax >= 1:
        s3 = math.sqrt(3.0)
        out += [s3 * x, s3 * y, s3 * z]
    if lmax >= 2:
        s15, s5 = math.sqrt(15.0), math.sqrt(5.0)
        out += [
            s15 * x * y,
            s15 * y * z,
            s5 / 2 * (3 * z * z - 1),
            s15 * x * z,
            s15 / 2 * (x * x - y * y),
        ]
    if lmax >= 3:
        a, b, c, d = math.sqrt(70) / 4, math.sqrt(105), math.sqrt(42) / 4, math.sqrt(7) / 2
        out += [
            a * y * (3 * x * x - y * y),
            b * x * y * z,
            c * y * (5 * z * z - 1),
            d * z * (5 * z * z - 3),
            c * x * (5 * z * z - 1),
            b / 2 * z * (x * x - y * y),
            a * x * (x * x - 3 * y * y),
        ]
    return torch.stack(out, -1)


def cubic_invariants(a1: torch.Tensor, a2: torch.Tensor) -> list[torch.Tensor]:
    """Invariants of third order in the moments (4-body terms: three neighbours and the
    centre) per atom and channel: vᵀTv and tr T³, with v the l = 1 moment as a vector and T the
    l = 2 moment as the symmetric traceless matrix Σ_j w_j (r̂r̂ᵀ − I/3). a1 (N, 3, C) and a2
    (N, 5, C) are in :func:`spherical_harmonics`' order and normalisation. Both are unchanged
    by rotations and reflections."""
    s3, s5, s15 = math.sqrt(3.0), math.sqrt(5.0), math.sqrt(15.0)
    v = a1 / s3  # Σ w r̂
    xy, yz, xz = a2[:, 0] / s15, a2[:, 1] / s15, a2[:, 3] / s15
    zz = a2[:, 2] * 2 / (3 * s5)  # Σ w (ẑ² − 1/3)
    d = a2[:, 4] * 2 / s15  # Σ w (x̂² − ŷ²)
    xx, yy = (d - zz) / 2, (-d - zz) / 2
    vx, vy, vz = v[:, 0], v[:, 1], v[:, 2]
    vtv = xx * vx**2 + yy * vy**2 + zz * vz**2 + 2 * (xy * vx * vy + xz * vx * vz + yz * vy * vz)
    t3 = (
        xx**3
        + yy**3
        + zz**3
        + 3 * (xx * (xy**2 + xz**2) + yy * (xy**2 + yz**2) + zz * (xz**2 + yz**2))
        + 6 * xy * yz * xz
    )
    return [vtv, t3]
