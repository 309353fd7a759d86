"""Secondary activations Ψ(v), v = u − θ: the surrogate derivative of the spike.

The same Ψ serves as BPTT's surrogate gradient and as the post-synaptic factor
of the local rules' eligibility, so a rule and its BPTT baseline differ only in
how credit travels, never in the neuron's derivative.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

SURROGATE_KINDS = ("triangle", "fast_sigmoid", "inverse_square")

_DEFAULT_SCALE = {"triangle": 0.3, "fast_sigmoid": 25.0, "inverse_square": 100.0}


@dataclass(frozen=True)
class Surrogate:
    """Ψ by name.

    ``triangle``: ``scale·max(0, 1 − |v|)`` (S-TLLR/TESS conv layers use scale 0.3);
    ``fast_sigmoid``: ``1/(scale·|v| + 1)²`` (snnTorch's slope, default 25);
    ``inverse_square``: the same curve at slope 100, S-TLLR's ``1/(100|v| + 1)²``.
    ``scale=None`` takes the kind's default.
    """

    kind: str = "triangle"
    scale: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in SURROGATE_KINDS:
            raise ValueError(f"surrogate must be one of {SURROGATE_KINDS}, got {self.kind!r}")
        if self.scale is None:
            object.__setattr__(self, "scale", _DEFAULT_SCALE[self.kind])
        if not self.scale > 0:
            raise ValueError(f"surrogate scale must be positive, got {self.scale}")

    def __call__(self, v: torch.Tensor) -> torch.Tensor:
        if self.kind == "triangle":
            return self.scale * torch.clamp(1.0 - v.abs(), min=0.0)
        return 1.0 / (self.scale * v.abs() + 1.0) ** 2


class _Spike(torch.autograd.Function):
    """Heaviside forward (spike when v ≥ 0), Ψ(v) backward; saves only v."""

    @staticmethod
    def forward(ctx, v: torch.Tensor, surrogate: Surrogate) -> torch.Tensor:
        ctx.save_for_backward(v)
        ctx.surrogate = surrogate
        return (v >= 0).to(v.dtype)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        (v,) = ctx.saved_tensors
        return grad_output * ctx.surrogate(v), None


def spike(v: torch.Tensor, surrogate: Surrogate) -> torch.Tensor:
    """Spikes of ``v = u − θ`` that carry the surrogate gradient when autograd is on."""
    return _Spike.apply(v, surrogate)
