"""A stack of LIF layers with a leaky-integrator readout, stepped one time step at a time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple, Sequence

import torch
from torch import nn

from eligo.snn.layers import LeakyReadout, LIFConv2d, LIFLayer, LIFLinear, LIFParams, LIFState, StepRecord

_CONV_TOKEN = re.compile(r"^c(\d+)k(\d+)(?:s(\d+))?$")


@dataclass(frozen=True)
class ConvSpec:
    """A convolutional hidden layer: ``c<channels>k<kernel>[s<stride>]`` on the command line."""

    channels: int
    kernel: int
    stride: int = 1


def parse_hidden(text: str) -> tuple[int | ConvSpec, ...]:
    """Parse ``--hidden`` such as ``128``, ``128,64`` or ``c8k3s2,128``."""
    layers: list[int | ConvSpec] = []
    for token in (t.strip() for t in text.split(",")):
        match = _CONV_TOKEN.match(token)
        if match:
            channels, kernel, stride = match.groups()
            layers.append(ConvSpec(int(channels), int(kernel), int(stride or 1)))
        elif token.isdigit() and int(token) > 0:
            layers.append(int(token))
        else:
            raise ValueError(f"hidden layer {token!r} is neither a positive width like 128 nor a conv like c8k3s2")
    return tuple(layers)


class NetState(NamedTuple):
    layers: list[LIFState]
    readout: torch.Tensor


class SNN(nn.Module):
    """Hidden LIF layers then a readout; ``step`` advances every layer by one time step."""

    def __init__(self, layers: Sequence[LIFLayer], readout: LeakyReadout):
        super().__init__()
        for upper, lower in zip(layers[1:], layers):
            if upper.n_in != lower.n_out:
                raise ValueError(f"layer sizes do not chain: {lower.n_out} outputs feed {upper.n_in} inputs")
        if readout.n_in != layers[-1].n_out:
            raise ValueError(f"readout expects {readout.n_in} inputs, last layer gives {layers[-1].n_out}")
        self.layers = nn.ModuleList(layers)
        self.readout = readout

    @property
    def n_inputs(self) -> int:
        return self.layers[0].n_in

    @property
    def n_classes(self) -> int:
        return self.readout.n_out

    def init_state(self, batch: int) -> NetState:
        return NetState([layer.init_state(batch) for layer in self.layers], self.readout.init_state(batch))

    def step(self, x: torch.Tensor, state: NetState) -> tuple[list[StepRecord], torch.Tensor, NetState]:
        records, new_states = [], []
        for layer, layer_state in zip(self.layers, state.layers):
            record, layer_state = layer.step(x, layer_state)
            records.append(record)
            new_states.append(layer_state)
            x = record.s
        logits = self.readout.step(x, state.readout)
        return records, logits, NetState(new_states, logits)

    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        """Logits summed over time for ``[B, T, n_inputs]`` spikes (the prediction of every rule)."""
        state = self.init_state(spikes.shape[0])
        total = torch.zeros(spikes.shape[0], self.n_classes)
        for t in range(spikes.shape[1]):
            _, logits, state = self.step(spikes[:, t].float(), state)
            total = total + logits
        return total


def build_network(n_inputs: int, hidden: Sequence[int | ConvSpec], n_classes: int, *,
                  lif: LIFParams = LIFParams(), recurrent: bool = False, readout_beta: float = 0.0,
                  input_shape: tuple[int, int, int] | None = None, gain: float = 1.0, seed: int = 0) -> SNN:
    """Build a network; conv layers need ``input_shape`` (C, H, W) with C·H·W = n_inputs."""
    if not hidden:
        raise ValueError("at least one hidden layer is needed")
    generator = torch.Generator().manual_seed(seed)
    layers: list[LIFLayer] = []
    width, shape = n_inputs, input_shape
    if shape is not None and shape[0] * shape[1] * shape[2] != n_inputs:
        raise ValueError(f"input shape {tuple(shape)} has {shape[0] * shape[1] * shape[2]} inputs, data has {n_inputs}")
    for spec in hidden:
        if isinstance(spec, ConvSpec):
            if shape is None:
                raise ValueError("a conv layer needs the input shape (C,H,W) of its input, and must precede FC layers")
            layer = LIFConv2d(shape, spec.channels, spec.kernel, spec.stride, lif, recurrent=recurrent, gain=gain,
                              generator=generator)
            shape = layer.out_shape
        else:
            layer = LIFLinear(width, spec, lif, recurrent=recurrent, gain=gain, generator=generator)
            shape = None
        layers.append(layer)
        width = layer.n_out
    return SNN(layers, LeakyReadout(width, n_classes, readout_beta, gain=gain, generator=generator))
