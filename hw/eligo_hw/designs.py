"""Buildable designs: a core from an ``AcceleratorConfig``, on a board's pins through a harness.

The ``accelerator`` design is the whole chip behind its UART bridge
(``eligo_hw.uart.SerialAccelerator``), on the board's USB-serial pins
(``UartPins``): a host drives it with the ``serial`` transport. The other
designs are pieces of it with hundreds of ports and no host interface; ``LiveHarness``
feeds every input bit from a shift register filled by an LFSR and folds every
output bit into the parity on one LED, so synthesis can neither remove the
datapath nor merge lanes that would otherwise see equal inputs. The harness
costs one flip-flop per input bit (``stimulus_bits``); summaries report it.

Each design also gives golden vectors: input and expected-output tensors from
the fixed-point model, written next to the bitstream (``golden/input.npz``,
``golden/expected.npz``) so a run of the core can be checked against
``eligo.fixed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from amaranth.hdl import Cat, Elaboratable, Module, Signal, Value, ValueCastable
from amaranth.lib import io, wiring

from eligo.config import AcceleratorConfig
from eligo.fixed.blocks import update_layer
from eligo.fixed.lif import lif_step
from eligo.fixed.model import FixedModel, initial_weights
from eligo_hw.neuron import LIFNeuron
from eligo_hw.update import LayerUpdateWithBank

WEIGHT_SEED = 5
WEIGHT_GAIN = 4.0


def port_values(component: wiring.Component, flow) -> list[Value]:
    """The component's ports of one direction as plain bit vectors."""
    return [Value.cast(value) if isinstance(value, ValueCastable) else value
            for _, member, value in component.signature.flatten(component) if member.flow == flow]


def stimulus_bits(component: wiring.Component) -> int:
    return sum(len(value) for value in port_values(component, wiring.In))


class LiveHarness(Elaboratable):
    """Drives every input of ``core`` from an LFSR-fed shift register; LED 0 shows the parity of every output."""

    def __init__(self, core: wiring.Component):
        self.core = core

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = self.core
        inputs = port_values(core, wiring.In)
        width = sum(len(value) for value in inputs)
        lfsr = Signal(32, init=1)
        stimulus = Signal(width)
        m.d.sync += [
            lfsr.eq(Cat(lfsr[31] ^ lfsr[21] ^ lfsr[1] ^ lfsr[0], lfsr[:31])),
            stimulus.eq(Cat(lfsr[0], stimulus[:-1]) if width > 1 else lfsr[0]),
        ]
        m.d.comb += Cat(*inputs).eq(stimulus)
        parity = Signal()
        m.d.sync += parity.eq(Cat(*port_values(core, wiring.Out)).xor())
        m.submodules.led = led = io.Buffer("o", platform.request("led", 0, dir="-"))
        m.d.comb += led.o.eq(parity)
        return m


class UartPins(Elaboratable):
    """Connects a core's ``rx``/``tx`` to the board's first UART (its USB-serial bridge)."""

    def __init__(self, core: wiring.Component):
        self.core = core

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = self.core
        uart = platform.request("uart", 0, dir={"rx": "-", "tx": "-"})
        m.submodules.rx = rx = io.Buffer("i", uart.rx)
        m.submodules.tx = tx = io.Buffer("o", uart.tx)
        m.d.comb += [core.rx.eq(rx.i), tx.o.eq(core.tx)]
        return m


def update_golden(cfg: AcceleratorConfig, seed: int) -> tuple[dict, dict]:
    """One learning step of layer 0: memory words, pre traces/spikes and factors in; every word after it out.

    Factors are formed as the learning-signal unit forms them: causal = L * Psi,
    non-causal = alpha_post * L * h, with random L, Psi and h in their ranges.
    """
    generator = torch.Generator().manual_seed(seed)
    layer = 0
    words = FixedModel(cfg, initial_weights(cfg, WEIGHT_SEED, gain=WEIGHT_GAIN)).words[layer].clone()
    n_in, n_out = cfg.network.layer_sizes[layer], cfg.network.layer_sizes[layer + 1]
    lo, hi = cfg.learning.signal_range
    signal = torch.randint(lo, hi + 1, (n_out,), generator=generator)
    psi = torch.randint(0, max(cfg.psi.values) + 1, (n_out,), generator=generator)
    post_trace = torch.randint(0, cfg.traces.max_value + 1, (n_out,), generator=generator)
    pre_trace = torch.randint(0, cfg.traces.max_value + 1, (n_in,), generator=generator)
    pre_trace[torch.rand(n_in, generator=generator) < 0.5] = 0
    pre_spike = (torch.rand(n_in, generator=generator) < 0.3).long() * (pre_trace != 0)
    causal, noncausal = signal * psi, cfg.learning.alpha_post * signal * post_trace
    before = words.clone()
    steps_before = (0,) * cfg.banks
    after, steps_after = update_layer(words, causal, noncausal, pre_trace, pre_spike, cfg.layer_shift(layer), cfg,
                                      layer, steps_before)
    inputs = {"weight_words": before, "pre_trace": pre_trace, "pre_spike": pre_spike,
              "causal": causal, "noncausal": noncausal, "lfsr_steps_before": torch.tensor(steps_before)}
    return inputs, {"weight_words": after, "visits": torch.tensor(sum(steps_after))}


def tracer_golden(cfg: AcceleratorConfig, seed: int) -> tuple[dict, dict]:
    """A current sequence in (one per step), the membrane and spikes of ``lif_step`` out."""
    generator = torch.Generator().manual_seed(seed)
    lo, hi = cfg.neuron.input_range
    current = torch.randint(max(lo, -cfg.neuron.threshold), min(hi, cfg.neuron.threshold) + 1, (64,),
                            generator=generator)
    membrane, membranes, spikes = torch.zeros(1, dtype=torch.int64), [], []
    for value in current:
        membrane, spike = lif_step(membrane, value.view(1), cfg.neuron)
        membranes.append(membrane)
        spikes.append(spike)
    return {"current": current}, {"membrane": torch.cat(membranes), "spike": torch.cat(spikes).long()}


def engine_golden(cfg: AcceleratorConfig, seed: int) -> tuple[dict, dict]:
    """One labelled sample in (spikes and its 32-bit word stream, weights before); scores and weights after out."""
    from eligo.data.stream import sample_words

    generator = torch.Generator().manual_seed(seed)
    spikes = (torch.rand(8, cfg.network.n_inputs, generator=generator) < 0.1).to(torch.uint8)
    label = int(torch.randint(0, cfg.network.n_classes, (1,), generator=generator))
    model = FixedModel(cfg, initial_weights(cfg, WEIGHT_SEED, gain=WEIGHT_GAIN))
    before = [words.clone() for words in model.words]
    scores = model.run_sample(spikes, label)
    inputs = {"spikes": spikes, "label": torch.tensor(label),
              "words": torch.from_numpy(sample_words(spikes.numpy(), label).astype("int64")),
              **{f"weight_words_{layer}": words for layer, words in enumerate(before)}}
    return inputs, {"scores": scores, **{f"weight_words_{layer}": words for layer, words in enumerate(model.words)}}


@dataclass(frozen=True)
class Design:
    """A named core: how to elaborate it from a config, its lane count for throughput, its golden vectors.

    ``board_options`` names the keyword arguments of ``core`` that a board may set (``Board.core_options``).
    """

    name: str
    description: str
    core: Callable[[AcceleratorConfig], wiring.Component]
    lanes: Callable[[AcceleratorConfig], int]
    golden: Callable[[AcceleratorConfig, int], tuple[dict, dict]]
    harness: Callable[[wiring.Component], Elaboratable] = LiveHarness
    board_options: tuple[str, ...] = ()


def engine_core(cfg: AcceleratorConfig) -> wiring.Component:
    from eligo_hw.layer_engine import LayerEngine

    return LayerEngine(cfg, FixedModel(cfg, initial_weights(cfg, WEIGHT_SEED, gain=WEIGHT_GAIN)).words)


def update_core(cfg: AcceleratorConfig) -> wiring.Component:
    words = FixedModel(cfg, initial_weights(cfg, WEIGHT_SEED, gain=WEIGHT_GAIN)).words[0]
    return LayerUpdateWithBank(cfg, 0, words)


def top_core(cfg: AcceleratorConfig) -> wiring.Component:
    from eligo_hw.top import Accelerator

    return Accelerator(cfg)


def accelerator_core(cfg: AcceleratorConfig, **options) -> wiring.Component:
    """``options``: the board's choices of ``SerialAccelerator``'s memories and buffers."""
    from eligo_hw.uart import SerialAccelerator

    return SerialAccelerator(cfg, **options)


DESIGNS: dict[str, Design] = {design.name: design for design in (
    Design("tracer", "one LIF neuron (the tool-flow tracer bullet)",
           lambda cfg: LIFNeuron(cfg.neuron), lambda cfg: 1, tracer_golden),
    Design("update", "layer 0's weight memory with its P-lane update datapath and LFSR bank",
           update_core, lambda cfg: cfg.lanes, update_golden),
    Design("engine", "the layer engine: hidden layer + readout, integrate/fire/learn, weight updates on P lanes",
           engine_core, lambda cfg: cfg.lanes, engine_golden),
    Design("top", "the accelerator top: AXI4-Lite registers, AXI-Stream event words in and packets out, the layer "
           "engine (the PYNQ-Z2's programmable-logic design)", top_core, lambda cfg: cfg.lanes, engine_golden),
    Design("accelerator", "the whole accelerator (registers, streams, layer engine) behind the UART bridge on the "
           "board's USB-serial pins, driven by the serial transport", accelerator_core, lambda cfg: cfg.lanes,
           engine_golden, UartPins, ("single_port_layers", "event_fifo_words", "output_packets",
                                           "stream_slices")),
)}


def get_design(name: str) -> Design:
    try:
        return DESIGNS[name]
    except KeyError:
        raise ValueError(f"unknown design {name!r}; known designs: {', '.join(DESIGNS)}") from None
