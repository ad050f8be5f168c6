"""What the transition transformer computes once per cluster, before any focus is chosen
(:meth:`hopformer.transformer.network.TransitionModel.prepare`), shared by every candidate."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor


@dataclass
class Context:
    """What :meth:`TransitionModel.prepare` computes once per cluster (shapes as in the model;
    ``biases`` per decoder block, ``bond_pair``/``hint_pair`` the pair terms of the head)."""

    mask: Tensor
    hint: Tensor
    x: Tensor
    centre: Tensor
    delta: Tensor
    r: Tensor
    env: Tensor
    memory: Tensor
    query: Tensor
    biases: list[list[Tensor]]
    bond_pair: Tensor
    hint_pair: Tensor
    focus_logits: Tensor

    def expand(self, samples: int) -> Context:
        """Each cluster's context repeated ``samples`` times (cluster-major order)."""
        if samples == 1:
            return self

        def rep(t: Tensor) -> Tensor:
            return t.repeat_interleave(samples, dim=0)

        fields = {f: getattr(self, f) for f in self.__dataclass_fields__}
        fields["biases"] = [[rep(t) for t in block] for block in self.biases]
        return Context(**{f: v if f == "biases" else rep(v) for f, v in fields.items()})
