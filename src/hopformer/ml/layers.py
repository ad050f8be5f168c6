"""Layers the graph networks share: the two-layer MLP, and that MLP applied to every edge of
a graph whose input is a concatenation of its end atoms' features and its own.

An edge MLP's first layer on ``cat([h[i], h[j], e])`` is the sum of one matrix per input
block, so each atom block can be projected once per atom and then gathered to the edges:
only the edge features' block is multiplied per edge. In a Pt cluster at a 5.5 Å cutoff an
atom has ~25–40 edges and the atom blocks are most of the input, so this is the same sum (to
rounding) at a fraction of the work (docs/design.md §10).
"""

from __future__ import annotations

import torch
from torch import nn


def mlp(n_in: int, width: int, n_out: int) -> nn.Sequential:
    """Linear → SiLU → Linear."""
    return nn.Sequential(nn.Linear(n_in, width), nn.SiLU(), nn.Linear(width, n_out))


Part = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


def gathered_linear(layer: nn.Linear, parts: list[Part]) -> torch.Tensor:
    """``layer(cat(inputs, -1))`` for edge-wise inputs given as ``parts`` in the input's order:
    a tensor (E, d) is an edge block, a pair (features (N, d), index (E,)) an atom block
    ``features[index]``, projected per atom before it is gathered."""
    widths = [(p[0] if isinstance(p, tuple) else p).shape[-1] for p in parts]
    if sum(widths) != layer.in_features:
        raise ValueError(f"input blocks of widths {widths} for a layer of {layer.in_features}")
    out = None
    for part, weight in zip(parts, layer.weight.split(widths, dim=1), strict=True):
        if isinstance(part, tuple):
            y = nn.functional.linear(part[0], weight)[part[1]]
        else:
            y = nn.functional.linear(part, weight)
        out = y if out is None else out + y
    return out if layer.bias is None else out + layer.bias


def edge_mlp(net: nn.Sequential, parts: list[Part]) -> torch.Tensor:
    """An :func:`mlp` on edge-wise inputs given as in :func:`gathered_linear`."""
    first, activation, last = net
    return last(activation(gathered_linear(first, parts)))
