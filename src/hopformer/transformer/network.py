"""The transition transformer: initial minimum (+ optional hint) → distribution of final minima.

Tokens are atoms. The **encoder** reads the initial (centred) positions and the species; the
**decoder** reads, per atom, whether its final position is given by the hint (and how far it
moves), attends to itself and to the encoder's memory, and parameterises the output.

Geometry is built in, not learned from augmentation (docs/design.md §6: a plain transformer on
absolute coordinates with rotation augmentation learned nothing in 16 CPU minutes, while a tiny
equivariant kernel beat the baseline). So the coordinates enter only through rotation-invariant
quantities, each with the transformer's sinusoidal encoding applied to a length:

* per atom, its distance from the cluster's centre (the positional encoding of the coordinates);
* per atom pair, the distance ``d_ij``, and for hint atoms the distance from atom i to hint
  atom j's *final* position and the projection of j's hint displacement on the bond i→j;
  these pair features bias every attention logit (one bias per head).

The output is equivariant by construction: an atom's displacement is a sum of bond vectors
``r_ij = x_j − x_i`` within a smooth cutoff and of hint displacements ``δ_j``, weighted by
invariant scalars. So rotating or reflecting the input rotates or reflects every candidate,
translations do nothing, and atom order does not matter (no index encoding). Hint atoms are
copied to their given final positions exactly.

**Generation** (sampling must come from a generative output, docs/design.md §6). The next state of
a cluster is decided by *which* atom goes first and *where*; a deterministic regression
collapses to "no move". The output distribution is therefore hierarchical:

1. a categorical over the atoms without a hint: the *focus*, the atom that moves most;
2. given the focus (a token flag, second decoder pass), a mixture of ``components`` isotropic
   Gaussians over all positions; the mixture weights are read off the focus atom's token.

Training is teacher-forced: the focus is the true largest-displacement atom outside the hint;
the loss is the focus cross-entropy plus the mixture negative log-likelihood per free atom
plus ``wta_weight`` × the best component's squared error per free atom (without that term the
mixture explains moving atoms by widening sigma and the means never learn the move).
Sampling draws focus, component and Gaussian noise from one seeded ``torch.Generator``;
*mode* decoding takes the most probable focus and component and their mean.

**Calibrated move length** (docs/design.md §6): a mean fitted by squared error averages the
moves its examples disagree on and falls short, so candidates move ``move_scale`` times the
chosen mean's move, one factor per hint-size bucket, set after training from the val split
(:func:`hopformer.transformer.training.calibrate_moves`). The loss never reads it; 1 (the
default) is the bare mixture.

Units: Å. Shapes: B clusters padded to N atoms (``atom_mask`` marks the real ones).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from hopformer.transformer.context import Context

PAIR_WIDTH = 48  # width of the pair-feature embedding
SCALE_BUCKETS = 10  # hint-size buckets of ``move_scale``: k = 0, 1, 2–3, 4–7, …, ≥ 256
NEG = -1e9  # additive mask: finite, so a softmax over masked logits never yields NaN


@dataclass(frozen=True)
class ModelConfig:
    """Hyper-parameters of :class:`TransitionModel` (config section ``transformer``)."""

    max_atoms: int = 256
    d_model: int = 64
    heads: int = 4
    encoder_layers: int = 2
    decoder_layers: int = 2
    components: int = 4
    frequencies: int = 12
    cutoff: float = 6.0
    min_sigma: float = 0.02
    wta_weight: float = 10.0

    def __post_init__(self):
        if self.d_model % self.heads:
            raise ValueError(
                f"transformer.d_model ({self.d_model}) must be a multiple of "
                f"transformer.heads ({self.heads})"
            )
        for name in ("max_atoms", "d_model", "heads", "components", "frequencies"):
            if getattr(self, name) < 1:
                raise ValueError(f"transformer.{name} must be ≥ 1, got {getattr(self, name)}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Batch:
    """Model input. ``positions`` (B, N, 3) initial minimum; ``numbers`` (B, N) atomic
    numbers (0 for padding); ``atom_mask`` (B, N); ``hint_mask`` (B, N) atoms whose final
    position is given in ``hint_positions`` (B, N, 3). Float tensors may be float64; the
    network runs in float32 and returns float64 positions."""

    positions: Tensor
    numbers: Tensor
    atom_mask: Tensor
    hint_mask: Tensor
    hint_positions: Tensor

    def to(self, device: torch.device | str) -> Batch:
        return Batch(*(getattr(self, f).to(device) for f in self.__dataclass_fields__))


@dataclass
class Output:
    """Mixture over final positions given a focus: ``means`` (B, M, N, 3), ``sigma`` (B, M, N),
    ``log_weights`` (B, M); ``focus_logits`` (B, N) (−1e9 where no focus is allowed)."""

    means: Tensor
    sigma: Tensor
    log_weights: Tensor
    focus_logits: Tensor


class Sinusoids(nn.Module):
    """Transformer-style sinusoidal encoding of a length (Å): sin/cos at geometric wavelengths
    from ``shortest`` to ``longest``."""

    def __init__(self, n: int, shortest: float = 0.5, longest: float = 24.0):
        super().__init__()
        wavelengths = torch.logspace(math.log10(shortest), math.log10(longest), n)
        self.register_buffer("omega", 2 * math.pi / wavelengths, persistent=False)

    def forward(self, r: Tensor) -> Tensor:
        phase = r.unsqueeze(-1) * self.omega
        return torch.cat([phase.sin(), phase.cos()], dim=-1)


def scale_bucket(k: Tensor) -> Tensor:
    """The ``move_scale`` bucket of hint sizes ``k`` (integer tensor): 0 for k = 0, else
    1 + ⌊log2 k⌋ (k = 1 → 1, 2–3 → 2, 4–7 → 3, …), capped at the last bucket."""
    k = k.long()
    exponent = torch.floor(torch.log2(k.clamp(min=1).double())).long()
    return torch.where(k > 0, exponent + 1, 0).clamp(max=SCALE_BUCKETS - 1)


def envelope(d: Tensor, cutoff: float) -> Tensor:
    """Smooth cutoff: 1 at d = 0, 0 with zero slope at ``cutoff`` and beyond."""
    return 0.5 * (torch.cos(math.pi * (d / cutoff).clamp(max=1.0)) + 1.0)


class PairAttention(nn.Module):
    """Multi-head attention with a per-head additive bias from the pair features."""

    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads, self.dh = heads, d // heads
        self.q = nn.Linear(d, d)
        self.kv = nn.Linear(d, 2 * d)
        self.out = nn.Linear(d, d)

    def forward(self, x: Tensor, memory: Tensor, bias: Tensor, key_mask: Tensor) -> Tensor:
        """``bias`` (B, H, N, N): from the pair features, computed once per cluster."""
        b, n, d = x.shape
        q = self.q(x).view(b, n, self.heads, self.dh).transpose(1, 2)
        k, v = self.kv(memory).view(b, n, 2, self.heads, self.dh).permute(2, 0, 3, 1, 4)
        # Explicit softmax: torch's fused attention returned NaN with float masks in eval mode.
        logits = q @ k.transpose(-1, -2) / math.sqrt(self.dh) + bias
        logits = logits.masked_fill(~key_mask[:, None, None, :], NEG)
        h = torch.softmax(logits, dim=-1) @ v
        return self.out(h.transpose(1, 2).reshape(b, n, d))


class Block(nn.Module):
    """Pre-norm transformer block: self-attention, optional cross-attention, feed-forward."""

    def __init__(self, d: int, heads: int, cross: bool):
        super().__init__()
        self.norm1 = nn.LayerNorm(d)
        self.attn = PairAttention(d, heads)
        self.cross = PairAttention(d, heads) if cross else None
        self.norm2 = nn.LayerNorm(d) if cross else None
        self.norm3 = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, 4 * d), nn.SiLU(), nn.Linear(4 * d, d))

    def forward(self, x, biases, mask, memory=None):
        h = self.norm1(x)
        x = x + self.attn(h, h, biases[0], mask)
        if self.cross is not None:
            x = x + self.cross(self.norm2(x), memory, biases[1], mask)
        return x + self.ff(self.norm3(x))


class TransitionModel(nn.Module):
    """Encoder–decoder over atom tokens (module doc)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = c = config
        d, f = c.d_model, c.frequencies
        self.enc_length = Sinusoids(f)
        self.species = nn.Embedding(119, d)
        self.radial = nn.Linear(2 * f, d)
        # Pair features are embedded once per cluster (the costly N² part); every attention
        # module and the output head read their biases off these embeddings linearly.
        self.enc_pair_net = nn.Sequential(nn.Linear(2 * f + 1, PAIR_WIDTH), nn.SiLU())
        self.dec_pair_net = nn.Sequential(
            nn.Linear(2 * f + 1 + 2 * (2 * f + 2), PAIR_WIDTH), nn.SiLU()
        )
        # All attention biases (and the head's pair terms) in one product each: reading the
        # (B, N, N, width) embedding once, not once per module, is what keeps training fast.
        self.enc_bias = nn.Linear(PAIR_WIDTH, c.heads * c.encoder_layers)
        self.dec_bias = nn.Linear(PAIR_WIDTH, 2 * c.heads * c.decoder_layers + 2 * c.components)
        self.encoder = nn.ModuleList(
            Block(d, c.heads, cross=False) for _ in range(c.encoder_layers)
        )
        self.query = nn.Linear(2 * f + 1, d)
        self.focus_embedding = nn.Parameter(torch.randn(d) * 0.1)
        self.decoder = nn.ModuleList(Block(d, c.heads, cross=True) for _ in range(c.decoder_layers))
        self.final_norm = nn.LayerNorm(d)
        self.focus_head = nn.Linear(d, 1)
        self.weight_head = nn.Linear(d, c.components)
        self.sigma_head = nn.Linear(d, c.components)
        m, dh = c.components, 16
        self.bond_q, self.bond_k = nn.Linear(d, m * dh), nn.Linear(d, m * dh)
        self.hint_q, self.hint_k = nn.Linear(d, m * dh), nn.Linear(d, m * dh)
        with torch.no_grad():  # the head's pair terms start at zero: no move at first
            self.dec_bias.weight[-2 * m :].zero_()
            self.dec_bias.bias[-2 * m :].zero_()
        self.out_scale = nn.Parameter(torch.tensor(0.1))
        # Not a parameter: set by calibration after training (module doc), saved with the
        # weights. Files and checkpoints written before it load as the bare mixture (1).
        self.register_buffer("move_scale", torch.ones(SCALE_BUCKETS))
        self.register_load_state_dict_pre_hook(
            lambda module, state, prefix, *_: state.setdefault(
                prefix + "move_scale", torch.ones(SCALE_BUCKETS)
            )
        )

    # -- the cluster's context: everything that does not depend on the focus ------------------
    def prepare(self, batch: Batch) -> Context:
        """Geometry, encoder memory, attention biases and focus logits of ``batch``."""
        mask = batch.atom_mask
        hint = batch.hint_mask & mask
        x = batch.positions.float()
        n_real = mask.sum(1, keepdim=True).clamp(min=1)
        centre = (x * mask[..., None]).sum(1, keepdim=True) / n_real[..., None]
        x = (x - centre) * mask[..., None]
        delta = torch.where(hint[..., None], batch.hint_positions.float() - centre - x, 0.0)
        r = x[:, None, :, :] - x[:, :, None, :]  # r[b, i, j] = x_j − x_i
        dist = r.norm(dim=-1)
        eye = torch.eye(x.shape[1], dtype=torch.bool, device=x.device)
        pair_mask = mask[:, :, None] & mask[:, None, :] & ~eye
        env = envelope(dist, self.config.cutoff) * pair_mask
        unit = r / dist.clamp(min=1e-6)[..., None]
        enc_pair = torch.cat([self.enc_length(dist), env[..., None]], dim=-1)
        # Hint atom j seen from atom i: distance to j's final position, δ_j along the bond i→j;
        # and the transpose (hint atom i seen from j), so both ends of a bond know.
        to_final = (r + delta[:, None, :, :]).norm(dim=-1)
        along = (unit * delta[:, None, :, :]).sum(-1)
        hint_j = hint[:, None, :, None].float().expand(*along.shape, 1)
        from_j = torch.cat([self.enc_length(to_final), along[..., None], hint_j], -1) * hint_j
        dec_pair = self.dec_pair_net(torch.cat([enc_pair, from_j, from_j.transpose(1, 2)], -1))
        c = self.config
        enc_bias = self.enc_bias(self.enc_pair_net(enc_pair)).permute(0, 3, 1, 2)
        dec_bias = self.dec_bias(dec_pair)
        head_terms = dec_bias[..., -2 * c.components :]
        dec_bias = dec_bias[..., : -2 * c.components].permute(0, 3, 1, 2)
        enc_biases = enc_bias.split(c.heads, dim=1)
        dec_biases = dec_bias.split(c.heads, dim=1)

        h = self.species(batch.numbers.long()) + self.radial(self.enc_length(x.norm(dim=-1)))
        for block, bias in zip(self.encoder, enc_biases, strict=True):
            h = block(h, [bias], mask)
        move = self.enc_length(delta.norm(dim=-1)) * hint[..., None]
        ctx = Context(
            mask=mask,
            hint=hint,
            x=x,
            centre=centre,
            delta=delta,
            r=r,
            env=env,
            memory=h,
            query=h + self.query(torch.cat([move, hint[..., None].float()], dim=-1)),
            biases=[list(dec_biases[2 * i : 2 * i + 2]) for i in range(c.decoder_layers)],
            bond_pair=head_terms[..., : c.components],
            hint_pair=head_terms[..., c.components :],
            focus_logits=torch.empty(0),
        )
        no_focus = torch.zeros_like(mask, dtype=torch.float32)
        logits = self.focus_head(self._decode(ctx, no_focus)).squeeze(-1)
        ctx.focus_logits = logits.masked_fill(~(mask & ~hint), NEG)
        return ctx

    def _decode(self, ctx: Context, focus_flag: Tensor) -> Tensor:
        q = ctx.query + focus_flag[..., None] * self.focus_embedding
        for block, biases in zip(self.decoder, ctx.biases, strict=True):
            q = block(q, biases, ctx.mask, ctx.memory)
        return self.final_norm(q)

    def _mixture(self, ctx: Context, focus: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Means (B, M, N, 3) in the centred frame, sigma (B, M, N), log weights (B, M)."""
        rows = torch.arange(len(focus), device=focus.device)
        flag = torch.zeros_like(ctx.mask, dtype=torch.float32)
        flag[rows, focus] = 1.0
        h = self._decode(ctx, flag)
        b, n, _ = h.shape
        m = self.config.components

        def weights(wq: nn.Linear, wk: nn.Linear, pair_term: Tensor) -> Tensor:
            q, k = wq(h).view(b, n, m, -1), wk(h).view(b, n, m, -1)
            return torch.einsum("bimd,bjmd->bijm", q, k) / math.sqrt(q.shape[-1]) + pair_term

        a = weights(self.bond_q, self.bond_k, ctx.bond_pair) * ctx.env[..., None]
        c = weights(self.hint_q, self.hint_k, ctx.hint_pair)
        c = c * (ctx.hint[:, None, :, None] & ctx.mask[:, :, None, None])
        move = torch.einsum("bijm,bijx->bmix", a, ctx.r) + torch.einsum(
            "bijm,bjx->bmix", c, ctx.delta
        )
        means = ctx.x[:, None] + self.out_scale * move
        sigma = self.config.min_sigma + nn.functional.softplus(self.sigma_head(h) - 3.0)
        log_weights = torch.log_softmax(self.weight_head(h[rows, focus]), dim=-1)
        return means, sigma.permute(0, 2, 1), log_weights

    def forward(self, batch: Batch, focus: Tensor | None = None) -> Output:
        """Focus logits and, for the given ``focus`` (B,) — default the most probable — the
        mixture over final positions, in the frame of the input."""
        ctx = self.prepare(batch)
        if focus is None:
            focus = ctx.focus_logits.argmax(-1)
        means, sigma, log_weights = self._mixture(ctx, focus)
        return Output(means + ctx.centre[:, None], sigma, log_weights, ctx.focus_logits)

    # -- training and sampling -----------------------------------------------------------------
    def loss(self, batch: Batch, target: Tensor) -> tuple[Tensor, dict[str, float]]:
        """Mean over the batch of focus cross-entropy + mixture NLL per free atom (teacher
        forcing: the focus is the free atom that moves most in ``target``)."""
        free = batch.atom_mask & ~batch.hint_mask
        y = target.float()
        disp = (y - batch.positions.float()).norm(dim=-1).masked_fill(~free, -1.0)
        focus = disp.argmax(-1)
        out = self.forward(batch, focus)
        ce = nn.functional.cross_entropy(out.focus_logits, focus, reduction="none")
        sq = ((y[:, None] - out.means) ** 2).sum(-1)  # (B, M, N)
        log_n = -sq / (2 * out.sigma**2) - 3 * out.sigma.log() - 1.5 * math.log(2 * math.pi)
        log_p = (log_n * free[:, None]).sum(-1) + out.log_weights
        n_free = free.sum(1).clamp(min=1)
        nll = -torch.logsumexp(log_p, dim=-1) / n_free
        # Winner-takes-all squared error of the best component (Å² per free atom): without it
        # the mixture first explains moving atoms by widening sigma and the means lag behind.
        wta = (sq * free[:, None]).sum(-1).min(-1).values / n_free
        total = (ce + nll + self.config.wta_weight * wta).mean()
        return total, {
            "focus_ce": float(ce.detach().mean()),
            "nll_per_atom": float(nll.detach().mean()),
            "wta_per_atom": float(wta.detach().mean()),
        }

    @torch.no_grad()
    def sample(
        self,
        batch: Batch,
        samples: int = 1,
        generator: torch.Generator | None = None,
        mode: bool = False,
    ) -> Tensor:
        """Final positions (B, samples, N, 3), float64: independent draws per cluster (or, with
        ``mode``, the most probable focus and component, their mean). The cluster's context is
        computed once and shared by its samples. Hint atoms are exactly their given positions;
        padding is zero. Draws come from ``generator`` (CPU), so a seed fixes them."""
        ctx = self.prepare(batch).expand(samples)
        if mode:
            focus = ctx.focus_logits.argmax(-1)
        else:
            probs = torch.softmax(ctx.focus_logits, -1).cpu()
            focus = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
        focus = focus.to(ctx.mask.device)
        means, sigma, log_weights = self._mixture(ctx, focus)
        rows = torch.arange(len(focus), device=means.device)
        if mode:
            comp = log_weights.argmax(-1)
        else:
            comp = torch.multinomial(log_weights.exp().cpu(), 1, generator=generator).squeeze(-1)
            comp = comp.to(means.device)
        scale = self.move_scale[scale_bucket(ctx.hint.sum(1))][:, None, None]
        x = ctx.x + scale * (means[rows, comp] - ctx.x)
        if not mode:
            noise = torch.randn(means[:, 0].shape, generator=generator, dtype=means.dtype)
            x = x + sigma[rows, comp][..., None] * noise.to(means.device)
        b, n = batch.atom_mask.shape
        x = (x.double() + ctx.centre.double()).view(b, samples, n, 3)
        hint = batch.hint_mask[:, None, :, None]
        x = torch.where(hint, batch.hint_positions.double()[:, None], x)
        return x * batch.atom_mask[:, None, :, None]
