"""One layer of the network on chip: its neuron core, its pre-trace scan and its weight memory with the update walk.

The engine (``LayerEngine``) composes a list of these, one per hidden layer
and one for the readout, and sequences them through a time step; everything
a layer keeps (membranes, traces, weights, factors) sits inside it, so the
engine only moves spikes between layers and forms the learning signals.
"""

from __future__ import annotations

import torch
from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from eligo.config import AcceleratorConfig
from eligo_hw.neuron_core import NeuronCore
from eligo_hw.traces import PreTraceScan
from eligo_hw.update import Layouts, LayerUpdate


def weight_depth(cfg: AcceleratorConfig) -> int:
    """Words in the largest weight memory: the width of every layer's weight address."""
    sizes = cfg.network.layer_sizes
    return max(n_in * groups for n_in, groups in zip(sizes[:-1], cfg.groups))


def probe_rows(cfg: AcceleratorConfig) -> int:
    """Addresses a probe reads: a group of neurons, or a row of pre traces (one per input of the layer)."""
    return max(*cfg.network.layer_sizes[:-1], *cfg.groups)


class WeightPortSignature(wiring.Signature):
    """A port on a layer's weight memory, seen from its user (the host while the engine is idle)."""

    def __init__(self, cfg: AcceleratorConfig, layer_select: bool):
        word = Layouts(cfg).word
        members = {"addr": Out(range(weight_depth(cfg))), "we": Out(1), "wdata": Out(word), "rdata": In(word)}
        if layer_select:  # the engine's port names the layer; a layer's own port is enabled instead
            members["layer"] = Out(range(max(len(cfg.network.layer_sizes) - 1, 2)))
        else:
            members["enable"] = Out(1)
        super().__init__(members)


def probe_layout(cfg: AcceleratorConfig) -> data.StructLayout:
    """What a layer's probe reads at one address: a group's state and a row's pre trace."""
    lanes = cfg.lanes
    return data.StructLayout({
        "membranes": data.ArrayLayout(data.signed(max(cfg.neuron.membrane_bits, cfg.readout_neuron.membrane_bits)),
                                      lanes),
        "post": data.ArrayLayout(unsigned(cfg.traces.bits), lanes),
        "scores": data.ArrayLayout(data.signed(cfg.readout.score_bits), lanes),
        "pre": unsigned(cfg.traces.bits),
    })


class LearnPortSignature(wiring.Signature):
    """The update walk's controls, seen from the engine: factors in, then ``start``; the shared LFSR banks."""

    def __init__(self, cfg: AcceleratorConfig, groups: int):
        layouts = Layouts(cfg)
        super().__init__({
            "factor_we": Out(1), "factor_addr": Out(range(max(groups, 2))), "factor_data": Out(layouts.factors),
            "start": Out(1), "decay": Out(range(cfg.learning.max_lr_decay + 1)), "busy": In(1),
            "noise": Out(layouts.bank_noise), "lfsr_step": In(cfg.banks), "visits": In(32),
        })


class LayerDatapath(wiring.Component):
    """Layer ``layer`` of ``cfg`` (the last is the readout), its weight memory loaded with ``words``.

    A step: input ``events`` integrate (``groups`` cycles each), ``fire`` walks
    the groups (each on ``result`` for a cycle; ``busy`` until done), ``scan``
    walks the pre traces over ``inputs`` (this step's input spikes, held until
    ``scanning`` falls). Learning: ``factor_addr`` reads a group's Psi and
    previous post trace (hidden layers, a cycle later); ``learn`` loads the
    factors and walks the weights. ``clear`` and ``abort`` end a sample
    (``NeuronCore``, ``PreTraceScan``). ``weights`` reaches the weight memory
    while ``weights.enable`` is high (the engine's host port while idle, or the
    back-projection reading the readout's weights); the probe reads state at
    ``probe_addr``, a cycle later.
    """

    def __init__(self, cfg: AcceleratorConfig, layer: int, words: torch.Tensor, single_port: bool = False):
        self.cfg = cfg
        self.neuron_core = NeuronCore(cfg, layer)
        self.weight_update = LayerUpdate(cfg, layer, words, single_port=single_port)
        n_in = cfg.network.layer_sizes[layer]
        code = cfg.readout.pre_decay if self.neuron_core.readout else cfg.traces.pre_decay
        self.pre_scan = PreTraceScan(cfg.traces, code, n_in, cfg.lanes)
        self.groups = cfg.groups[layer]
        super().__init__({
            "events": In(stream.Signature(range(n_in))),
            "inputs": In(n_in),
            "fire": In(1), "scan": In(1), "clear": In(1), "abort": In(1),
            "busy": Out(1), "scanning": Out(1), "result_valid": Out(1), "result": Out(self.neuron_core.result_layout),
            "factor_addr": In(range(max(self.groups, 2))),
            "factor_psi": Out(self.neuron_core.layouts["psis"]), "factor_post": Out(self.neuron_core.layouts["traces"]),
            "learn": In(LearnPortSignature(cfg, self.groups)),
            "weights": In(WeightPortSignature(cfg, layer_select=False)),
            "probe_addr": In(range(probe_rows(cfg))),
            "probe": Out(probe_layout(cfg)),
        })

    def elaborate(self, platform):
        m = Module()
        core, update, scan, lanes = self.neuron_core, self.weight_update, self.pre_scan, self.cfg.lanes
        m.submodules.core, m.submodules.update, m.submodules.scan = core, update, scan
        wiring.connect(m, wiring.flipped(self.events), core.events)
        m.d.comb += [
            core.fire.eq(self.fire), core.clear.eq(self.clear), core.abort.eq(self.abort),
            scan.start.eq(self.scan), scan.clear.eq(self.clear), scan.abort.eq(self.abort), scan.spikes.eq(self.inputs),
            self.busy.eq(core.busy), self.scanning.eq(scan.busy),
            self.result_valid.eq(core.result_valid), self.result.eq(core.result),
            core.factor_addr.eq(self.factor_addr),
            self.factor_psi.eq(core.factor_psi), self.factor_post.eq(core.factor_post),
        ]
        # The factors reach the update sequencer a cycle after the engine forms them (its multipliers and the
        # sequencer's test for a non-zero group in separate cycles), and so does ``start``, which may follow the
        # last factor at once (every layer's walk starts together); busy from the start on.
        learn = self.learn
        start = Signal()
        m.d.sync += [update.factor_we.eq(learn.factor_we), update.factor_addr.eq(learn.factor_addr),
                     update.factor_data.eq(learn.factor_data), start.eq(learn.start)]
        m.d.comb += [update.start.eq(start), learn.busy.eq(update.busy | start),
                     update.decay.eq(learn.decay), update.noise.eq(learn.noise),
                     learn.lfsr_step.eq(update.lfsr_step), learn.visits.eq(update.visits)]

        # The weight memory: the core reads it while integrating, the port's user otherwise (it writes only while
        # enabled). The address is picked by the core's registered read flag, not by ``enable``, which the engine
        # derives from the command stream in the same cycle.
        weights = self.weights
        m.d.comb += [update.weight_addr.eq(Mux(core.weight_read, core.weight_addr, weights.addr)),
                     update.weight_we.eq(weights.enable & weights.we), update.weight_wdata.eq(weights.wdata),
                     weights.rdata.eq(update.weight_data), core.weight_data.eq(update.weight_data)]

        # The pre traces, P per word, are the scan's while it runs and the probe's otherwise.
        lane_bits = (lanes - 1).bit_length()
        probe_lane = Signal(range(lanes))
        m.d.sync += probe_lane.eq(self.probe_addr[:lane_bits])
        m.d.comb += [update.pre_read_addr.eq(Mux(scan.busy, scan.read_addr, self.probe_addr >> lane_bits)),
                     scan.read_data.eq(update.pre_read_data),
                     update.pre_we.eq(scan.write_en), update.pre_addr.eq(scan.write_addr),
                     update.pre_data.eq(scan.write_data),
                     self.probe.pre.eq(update.pre_read_data[probe_lane].trace),
                     core.probe_addr.eq(self.probe_addr)]
        for lane in range(lanes):
            m.d.comb += [self.probe.membranes[lane].eq(core.probe_membranes[lane]),
                         self.probe.post[lane].eq(core.probe_post[lane]),
                         self.probe.scores[lane].eq(core.probe_scores[lane])]
        return m
