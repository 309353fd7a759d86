"""TESS (Apolinario, Roy, Frenkel, IJCNN 2025): S-TLLR's eligibility with a layer-local signal.

Each layer makes its own learning signal from its own spikes, through a fixed
±1 square-wave projection B (C × n_l, scaled by 1/n_l)::

    m[t] = Bᵀ (softmax(B·s[t]) − y*)         (the gradient of CE(B·s[t], y) w.r.t. s[t])

so no error travels between layers. B is never stored: it is regenerated from
indices whenever it is needed (what a chip does with a counter). Two waves:

* ``basis="sin"`` — the paper's ``B[k, d] = sign(sin(f_k·d))``, f_k = linspace(50, 512, C)
  radians per index; column d = 0 is all zeros (sin 0 = 0), so the values are {−1, 0, +1}.
* ``basis="counter"`` — a +1/−1 square wave whose half-period for class k is k + 1
  indices: a counter that flips the sign every k + 1 inputs; strictly binary.

The readout learns from its own per-step cross-entropy on (detached) last-layer spikes.
"""

from __future__ import annotations

import torch

from eligo.rules.stllr import EligibilityRule
from eligo.snn import SNN

BASES = ("sin", "counter")


def square_wave_projection(basis: str, n_classes: int, dim: int) -> torch.Tensor:
    """The fixed projection B (C × dim) including its 1/dim scale, generated from indices."""
    index = torch.arange(dim, dtype=torch.float32)
    if basis == "sin":
        freq = torch.linspace(50.0, 512.0, n_classes, dtype=torch.float32)
        wave = torch.sign(torch.sin(freq[:, None] * index[None, :]))
    elif basis == "counter":
        half_period = torch.arange(1, n_classes + 1, dtype=torch.float32)
        wave = 1.0 - 2.0 * (torch.div(index[None, :], half_period[:, None], rounding_mode="floor") % 2)
    else:
        raise ValueError(f"TESS basis must be one of {BASES}, got {basis!r}")
    return wave / dim


class TESS(EligibilityRule):
    name = "tess"

    def __init__(self, network: SNN, *, basis: str = "sin", lambda_pre: float = 0.5, alpha_post: float = 0.0,
                 **kwargs):
        super().__init__(network, lambda_pre=lambda_pre, alpha_post=alpha_post, **kwargs)
        if basis not in BASES:
            raise ValueError(f"TESS basis must be one of {BASES}, got {basis!r}")
        self.basis = basis

    def local_signal(self, spikes: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """m = Bᵀ(softmax(B·s) − y*)/batch for one layer's spikes."""
        proj = square_wave_projection(self.basis, self.network.n_classes, spikes.shape[1])
        probs = torch.softmax(spikes @ proj.t(), dim=1)
        target = torch.nn.functional.one_hot(labels, proj.shape[0]).float()
        return (probs - target) @ proj / spikes.shape[0]

    def learning_signals(self, records, psis, error, labels):
        return [self.local_signal(r.s, labels) for r in records]

    def signal_macs(self, index):
        return 2 * self.network.n_classes * self.network.layers[index].n_out
