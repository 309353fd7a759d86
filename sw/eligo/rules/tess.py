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

``projection`` gives each layer's wave (C × dim) instead, still scaled by 1/dim: the chip's
square wave from its config, for the twin (``eligo.fixed.blocks.square_wave``).

The readout learns from its own per-step cross-entropy on (detached) last-layer spikes.

Two choices of the authors' released code are options, off by default (the paper's rule):

* ``pool=p`` — a convolutional layer's spike maps are average-pooled to p × p per channel
  before the projection (B is then C × channels·p², the gradient spread back over each cell);
* ``temperature=τ`` — the layer loss is CE(B·s/τ, y) (the released code's ``temperature``, 1 there);
  with B's 1/n_l the logits are small and softmax(B·s) stays near uniform at τ = 1, so m is
  almost the fixed projection of the label; τ < 1 makes it depend on how well the layer does;
* ``global_steps=k`` — the last k steps of the learning window use the global signal instead,
  the output error back-propagated through the layers within the step (S-TLLR's ``bp``); the
  released training loop's ``delay_ls``, set there to at least T, so every step is global.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from eligo.rules.stllr import EligibilityRule
from eligo.snn import SNN, LIFConv2d

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
                 pool: int | None = None, global_steps: int = 0, temperature: float = 1.0,
                 projection: Sequence[torch.Tensor] | None = None, **kwargs):
        super().__init__(network, lambda_pre=lambda_pre, alpha_post=alpha_post, **kwargs)
        if basis not in BASES:
            raise ValueError(f"TESS basis must be one of {BASES}, got {basis!r}")
        if pool is not None and pool < 1:
            raise ValueError(f"TESS pool must be >= 1 (or None), got {pool}")
        if global_steps < 0:
            raise ValueError(f"TESS global_steps must be >= 0, got {global_steps}")
        if not temperature > 0:
            raise ValueError(f"TESS temperature must be positive, got {temperature}")
        self.basis, self.pool, self.global_steps, self.temperature = basis, pool, global_steps, temperature
        self.projection = None
        if projection is not None:
            shapes = [(network.n_classes, self._projected_dim(layer)) for layer in network.layers]
            if [tuple(wave.shape) for wave in projection] != shapes:
                raise ValueError(f"TESS projection must be one wave per layer of shapes {shapes}, "
                                 f"got {[tuple(wave.shape) for wave in projection]}")
            self.projection = [torch.as_tensor(wave, dtype=torch.float32) for wave in projection]

    def _projected_dim(self, layer) -> int:
        """Entries of the activity a layer's B projects: its spikes, or with ``pool`` a conv layer's pooled maps."""
        if self.pool is not None and isinstance(layer, LIFConv2d):
            return layer.out_shape[0] * self.pool ** 2
        return layer.n_out

    def _projection_of(self, layer, dim: int) -> torch.Tensor:
        """B (C × dim) with its 1/dim scale: the layer's given wave, or the ``basis``."""
        if self.projection is None:
            return square_wave_projection(self.basis, self.network.n_classes, dim)
        (wave,) = [wave for wave, other in zip(self.projection, self.network.layers) if other is layer]
        return wave / dim

    def local_signal(self, spikes: torch.Tensor, labels: torch.Tensor, layer=None) -> torch.Tensor:
        """m = ∂CE(B·a/τ, y)/∂s for one layer's spikes s (batch mean), a = s or, with ``pool``, its pooled maps."""
        if self.pool is not None and isinstance(layer, LIFConv2d):
            with torch.enable_grad():
                s = spikes.detach().requires_grad_(True)
                maps = s.reshape(s.shape[0], *layer.out_shape)
                pooled = torch.nn.functional.adaptive_avg_pool2d(maps, self.pool).flatten(1)
                proj = self._projection_of(layer, pooled.shape[1])
                loss = torch.nn.functional.cross_entropy(pooled @ proj.t() / self.temperature, labels)
                (signal,) = torch.autograd.grad(loss, s)
            return signal
        proj = self._projection_of(layer, spikes.shape[1])
        probs = torch.softmax(spikes @ proj.t() / self.temperature, dim=1)
        target = torch.nn.functional.one_hot(labels, proj.shape[0]).float()
        return (probs - target) @ proj / (self.temperature * spikes.shape[0])

    def global_step(self) -> bool:
        """Whether this step is among the last ``global_steps`` of the sample (the global signal's steps)."""
        return self.t >= self.time_steps - self.global_steps

    def learning_signals(self, records, psis, error, labels):
        net = self.network
        if not self.global_step():
            return [self.local_signal(r.s, labels, layer) for r, layer in zip(records, net.layers)]
        signals = [net.readout.input_grad(error)]
        for layer, psi in zip(reversed(net.layers[1:]), reversed(psis[1:])):
            signals.insert(0, layer.input_grad(psi * signals[0]))
        return signals

    def signal_macs(self, index):
        """MACs of the layer-local signal (the formula's variant: no pooling, no global steps)."""
        return 2 * self.network.n_classes * self.network.layers[index].n_out
