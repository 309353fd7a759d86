"""LIF layers and the leaky-integrator readout, all as maps ``[B, n_in] -> [B, n_out]``.

Convolutional layers flatten their maps at the boundary, so traces, learning
signals and every rule see one shape convention; a layer only has to say how it
forms its current (``current``), an outer product of post and pre factors shaped
like its weight (``weight_outer``) and how a gradient reaches its input
(``input_grad``). The local rules are written against these three methods only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from eligo.snn.surrogates import Surrogate, spike

RESETS = ("subtract", "zero")


@dataclass(frozen=True)
class LIFParams:
    """snnTorch-style neuron constants.

    Per step: ``u[t] = beta·u_post[t−1] + I[t]``, ``s[t] = 1[u[t] ≥ threshold]``,
    then reset by subtraction (``u_post = u − threshold·s``) or to zero — the
    order of the fixed-point neuron (leak, integrate, fire, reset). The default
    beta 0.875 is the hardware's ``leak_shift = 3``.
    """

    beta: float = 0.875
    threshold: float = 1.0
    reset: str = "subtract"
    surrogate: Surrogate = Surrogate()

    def __post_init__(self) -> None:
        if not 0.0 <= self.beta <= 1.0:
            raise ValueError(f"beta must be in [0, 1], got {self.beta}")
        if not self.threshold > 0:
            raise ValueError(f"threshold must be positive, got {self.threshold}")
        if self.reset not in RESETS:
            raise ValueError(f"reset must be one of {RESETS}, got {self.reset!r}")


class LIFState(NamedTuple):
    u: torch.Tensor  # membrane after reset
    s: torch.Tensor  # spikes of the last step (the recurrent input)


class StepRecord(NamedTuple):
    """What one layer saw and did in one step; the local rules read these."""

    x: torch.Tensor       # input spikes [B, n_in]
    u: torch.Tensor       # membrane before reset [B, n_out]
    s: torch.Tensor       # output spikes [B, n_out]
    s_prev: torch.Tensor  # previous output spikes (recurrent input) [B, n_out]


def _uniform(shape: tuple[int, ...], fan_in: int, gain: float, generator: torch.Generator) -> nn.Parameter:
    bound = gain * math.sqrt(3.0 / fan_in)
    return nn.Parameter((torch.rand(shape, generator=generator) * 2 - 1) * bound)


class LIFLayer(nn.Module):
    """Common LIF dynamics; subclasses define the feed-forward current."""

    n_in: int
    n_out: int

    def __init__(self, n_out: int, params: LIFParams, recurrent: bool, gain: float, generator: torch.Generator):
        super().__init__()
        self.params = params
        self.recurrent = _uniform((n_out, n_out), n_out, gain * 0.5, generator) if recurrent else None

    def current(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def weight_outer(self, post: torch.Tensor, pre: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def input_grad(self, grad_current: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @property
    def macs_per_step(self) -> int:
        """Multiply-accumulates of one dense forward step for one sample (recurrence included)."""
        return self.feedforward_macs + (self.n_out * self.n_out if self.recurrent is not None else 0)

    @property
    def feedforward_macs(self) -> int:
        raise NotImplementedError

    def init_state(self, batch: int) -> LIFState:
        zeros = torch.zeros(batch, self.n_out)
        return LIFState(zeros, zeros.clone())

    def psi(self, u: torch.Tensor) -> torch.Tensor:
        return self.params.surrogate(u - self.params.threshold)

    def step(self, x: torch.Tensor, state: LIFState) -> tuple[StepRecord, LIFState]:
        """One time step; spikes carry Ψ as gradient, the reset is detached (as in snnTorch's detach_reset)."""
        p = self.params
        i = self.current(x)
        if self.recurrent is not None:
            i = i + F.linear(state.s, self.recurrent)
        u = p.beta * state.u + i
        s = spike(u - p.threshold, p.surrogate)
        fired = s.detach()
        u_post = u - p.threshold * fired if p.reset == "subtract" else u * (1.0 - fired)
        return StepRecord(x, u, s, state.s), LIFState(u_post, s)


class LIFLinear(LIFLayer):
    """Fully connected LIF layer (no bias, as on the chip)."""

    def __init__(self, n_in: int, n_out: int, params: LIFParams = LIFParams(), *, recurrent: bool = False,
                 gain: float = 1.0, generator: torch.Generator | None = None):
        generator = generator or torch.Generator().manual_seed(0)
        super().__init__(n_out, params, recurrent, gain, generator)
        self.n_in, self.n_out = n_in, n_out
        self.weight = _uniform((n_out, n_in), n_in, gain, generator)

    def current(self, x):
        return F.linear(x, self.weight)

    def weight_outer(self, post, pre):
        return post.t() @ pre

    def input_grad(self, grad_current):
        return grad_current @ self.weight

    @property
    def feedforward_macs(self) -> int:
        return self.n_in * self.n_out


class LIFConv2d(LIFLayer):
    """Convolutional LIF layer, 'same' padding, optional stride (the pooling of a small chip)."""

    def __init__(self, in_shape: tuple[int, int, int], channels: int, kernel: int, stride: int = 1,
                 params: LIFParams = LIFParams(), *, recurrent: bool = False, gain: float = 1.0,
                 generator: torch.Generator | None = None):
        generator = generator or torch.Generator().manual_seed(0)
        c_in, height, width = in_shape
        if kernel < 1 or kernel % 2 == 0:
            raise ValueError(f"conv kernel must be odd and >= 1, got {kernel}")
        if stride < 1:
            raise ValueError(f"conv stride must be >= 1, got {stride}")
        self.in_shape = tuple(in_shape)
        self.stride, self.padding = stride, kernel // 2
        out_h = (height + 2 * self.padding - kernel) // stride + 1
        out_w = (width + 2 * self.padding - kernel) // stride + 1
        self.out_shape = (channels, out_h, out_w)
        n_out = channels * out_h * out_w
        super().__init__(n_out, params, recurrent, gain, generator)
        self.n_in, self.n_out = c_in * height * width, n_out
        self.weight = _uniform((channels, c_in, kernel, kernel), c_in * kernel * kernel, gain, generator)

    def _maps(self, flat: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
        return flat.reshape(flat.shape[0], *shape)

    def current(self, x):
        return F.conv2d(self._maps(x, self.in_shape), self.weight, stride=self.stride,
                        padding=self.padding).flatten(1)

    def weight_outer(self, post, pre):
        return torch.nn.grad.conv2d_weight(self._maps(pre, self.in_shape), self.weight.shape,
                                           self._maps(post, self.out_shape), stride=self.stride,
                                           padding=self.padding)

    def input_grad(self, grad_current):
        return torch.nn.grad.conv2d_input((grad_current.shape[0], *self.in_shape), self.weight,
                                          self._maps(grad_current, self.out_shape), stride=self.stride,
                                          padding=self.padding).flatten(1)

    @property
    def feedforward_macs(self) -> int:
        channels, c_in, k, _ = self.weight.shape
        return self.out_shape[1] * self.out_shape[2] * channels * c_in * k * k


class LeakyReadout(nn.Module):
    """Non-spiking leaky integrator ``m[t] = beta·m[t−1] + W s[t]``; ``m`` are the logits.

    beta = 0 gives per-step logits (S-TLLR's VGG head), beta = 1 a pure sum (TP's head).
    """

    def __init__(self, n_in: int, n_classes: int, beta: float = 0.0, *, gain: float = 1.0,
                 generator: torch.Generator | None = None):
        super().__init__()
        if not 0.0 <= beta <= 1.0:
            raise ValueError(f"readout beta must be in [0, 1], got {beta}")
        generator = generator or torch.Generator().manual_seed(0)
        self.n_in, self.n_out, self.beta = n_in, n_classes, beta
        self.weight = _uniform((n_classes, n_in), n_in, gain, generator)

    def init_state(self, batch: int) -> torch.Tensor:
        return torch.zeros(batch, self.n_out)

    def step(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        return self.beta * m + F.linear(x, self.weight)

    def weight_outer(self, post, pre):
        return post.t() @ pre

    def input_grad(self, grad_logits):
        return grad_logits @ self.weight

    @property
    def macs_per_step(self) -> int:
        return self.n_in * self.n_out
