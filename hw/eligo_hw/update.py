"""Weight-update datapath: P lanes of ``update_word`` and the sequencer of ``update_layer``.

A layer's weights live P per memory word (address = j * groups + g). The
sequencer visits exactly the words the model visits (row j with q_j != 0,
group g with a non-zero factor in any lane; j outer, g inner), steps the
shared LFSR bank once per visit and writes each word back one cycle after
reading it, so it sustains one word per cycle; an inactive row costs one
cycle, an active row none beyond its words.
"""

from __future__ import annotations

import torch
from amaranth.hdl import Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from eligo.config import AcceleratorConfig
from eligo_hw.arith import saturate
from eligo_hw.lfsr import LfsrBank
from eligo_hw.words import saturating_increment


def factor_bits(cfg: AcceleratorConfig) -> int:
    """Signed width holding both L*Psi and alpha_post*L*h (and the readout error e)."""
    return cfg.learning.signal_bits + max(cfg.psi.bits, cfg.traces.bits)


def layer_shift(cfg: AcceleratorConfig, layer: int) -> int:
    """Learning-rate shift of a layer: the readout (last layer) uses lr_shift, hidden layers lr_shift_hidden."""
    return cfg.learning.lr_shift if layer == len(cfg.network.hidden) else cfg.lr_shift_hidden


class Layouts:
    """The data layouts of one layer's update, all derived from the config."""

    def __init__(self, cfg: AcceleratorConfig):
        self.word = data.ArrayLayout(signed(cfg.weight_bits), cfg.lanes)
        self.factors = data.StructLayout({
            "causal": data.ArrayLayout(signed(factor_bits(cfg)), cfg.lanes),
            "noncausal": data.ArrayLayout(signed(factor_bits(cfg)), cfg.lanes),
        })
        self.pre = data.StructLayout({"trace": unsigned(cfg.traces.bits), "spike": 1})
        self.noise = data.ArrayLayout(unsigned(cfg.lfsr.bits), cfg.lanes)


class UpdateLanes(wiring.Component):
    """One word's new value: w_l <- sat(w_l + ((causal_l q + noncausal_l x + r_l) >> shift)), r_l = low noise bits."""

    def __init__(self, cfg: AcceleratorConfig, shift: int):
        self.cfg = cfg
        self.shift = shift
        layouts = Layouts(cfg)
        super().__init__({
            "word": In(layouts.word),
            "factors": In(layouts.factors),
            "pre": In(layouts.pre),
            "noise": In(layouts.noise),
            "updated": Out(layouts.word),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        for lane in range(cfg.lanes):
            product = (self.factors.causal[lane] * self.pre.trace
                       + Mux(self.pre.spike, self.factors.noncausal[lane], 0))
            delta = (product + self.noise[lane][:self.shift]) >> self.shift
            m.d.comb += self.updated[lane].eq(saturate(self.word[lane] + delta, cfg.weight_bits))
        return m


class LayerUpdate(wiring.Component):
    """A layer's weight memory with its update sequencer.

    Load the pre traces/spikes (``pre_*``) and the per-group factors
    (``factor_*``) while idle, pulse ``start``; ``busy`` stays high until the
    last word is written back. ``noise``/``lfsr_step`` connect the shared
    LFSR bank. While idle, ``weight_addr`` reads a word on ``weight_data``
    (one cycle latency) and, with ``weight_we``, writes ``weight_wdata``
    there; ``pre_read_addr`` reads a pre trace back the same way.
    ``visits`` and ``busy_cycles`` count for benchmarks.
    """

    def __init__(self, cfg: AcceleratorConfig, layer: int, words: torch.Tensor, counter_bits: int = 32):
        self.cfg = cfg
        self.layer = layer
        self.n_in = cfg.network.layer_sizes[layer]
        self.groups = cfg.groups[layer]
        expected = (self.n_in, self.groups, cfg.lanes)
        if tuple(words.shape) != expected:
            raise ValueError(f"layer {layer}: weight words must be {list(expected)}, got {list(words.shape)}")
        self.init_words = words.reshape(-1, cfg.lanes).tolist()
        self.layouts = layouts = Layouts(cfg)
        depth = self.n_in * self.groups
        super().__init__({
            "pre_we": In(1), "pre_addr": In(range(self.n_in)), "pre_data": In(layouts.pre),
            "factor_we": In(1), "factor_addr": In(range(max(self.groups, 2))), "factor_data": In(layouts.factors),
            "start": In(1), "busy": Out(1),
            "noise": In(layouts.noise), "lfsr_step": Out(1),
            "weight_addr": In(range(depth)), "weight_data": Out(layouts.word),
            "weight_we": In(1), "weight_wdata": In(layouts.word),
            "pre_read_addr": In(range(self.n_in)), "pre_read_data": Out(layouts.pre),
            "visits": Out(counter_bits), "busy_cycles": Out(counter_bits),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, layouts, groups, n_in = self.cfg, self.layouts, self.groups, self.n_in
        m.submodules.weights = weights = Memory(shape=layouts.word, depth=n_in * groups, init=self.init_words)
        m.submodules.pres = pres = Memory(shape=layouts.pre, depth=n_in, init=[])
        m.submodules.factors = factors = Memory(shape=layouts.factors, depth=groups, init=[])
        m.submodules.lanes = lanes = UpdateLanes(cfg, layer_shift(cfg, self.layer))
        weight_rd, weight_wr = weights.read_port(), weights.write_port()
        pre_rd, pre_wr, pre_host = pres.read_port(), pres.write_port(), pres.read_port()
        m.d.comb += [pre_host.addr.eq(self.pre_read_addr), self.pre_read_data.eq(pre_host.data)]
        factor_rd, factor_wr = factors.read_port(), factors.write_port()

        # Host-side loading; a group is active iff any lane's factor is non-zero.
        active = Signal(groups)
        factor_nonzero = (self.factor_data.as_value() != 0)
        m.d.comb += [
            pre_wr.en.eq(self.pre_we), pre_wr.addr.eq(self.pre_addr), pre_wr.data.eq(self.pre_data),
            factor_wr.en.eq(self.factor_we), factor_wr.addr.eq(self.factor_addr), factor_wr.data.eq(self.factor_data),
        ]
        with m.If(self.factor_we):
            for g in range(groups):
                with m.If(self.factor_addr == g):
                    m.d.sync += active[g].eq(factor_nonzero)

        # Active groups above the current one, and the lowest of a set.
        group = Signal(range(max(groups, 2)))
        above = Signal(groups)
        m.d.comb += above.eq(active & ~((Const(2) << group) - 1)[:groups])

        def lowest(bits):
            index = 0
            for g in reversed(range(groups)):
                index = Mux(bits[g], g, index)
            return bits.any(), index

        has_first, first = lowest(active)
        has_next, following = lowest(above)

        # The pre memory's read address defaults to the next row, so in CHECK its output holds row ``row``;
        # in VISIT it holds row ``row + 1``.
        row = Signal(range(n_in))
        next_row = Signal(range(n_in))
        row_base = Signal(range(n_in * groups))
        m.d.comb += [next_row.eq(row), pre_rd.addr.eq(next_row)]
        m.d.sync += row.eq(next_row)
        last_row = row == n_in - 1
        row_pre = Signal(layouts.pre)

        # Second stage: the word read last cycle is updated and written back.
        stage_valid = Signal()
        stage_addr = Signal(range(n_in * groups))
        stage_pre = Signal(layouts.pre)
        m.d.sync += stage_valid.eq(0)
        m.d.comb += [
            lanes.word.eq(weight_rd.data), lanes.factors.eq(factor_rd.data), lanes.pre.eq(stage_pre),
            lanes.noise.eq(self.noise),
            weight_wr.addr.eq(Mux(stage_valid, stage_addr, self.weight_addr)),
            weight_wr.data.eq(Mux(stage_valid, lanes.updated.as_value(), self.weight_wdata.as_value())),
            weight_rd.addr.eq(self.weight_addr), self.weight_data.eq(weight_rd.data),
        ]

        def next_row_or_finish():
            with m.If(last_row):
                m.next = "FLUSH"
            with m.Else():
                m.d.comb += next_row.eq(row + 1)
                m.d.sync += row_base.eq(row_base + groups)
                m.next = "CHECK"

        with m.FSM() as fsm:
            with m.State("IDLE"):
                with m.If(self.start & has_first):
                    m.d.comb += next_row.eq(0)
                    m.d.sync += row_base.eq(0)
                    m.next = "CHECK"
            with m.State("CHECK"):
                m.d.comb += self.busy.eq(1)
                with m.If(pre_rd.data.trace == 0):
                    next_row_or_finish()
                with m.Else():
                    m.d.comb += pre_rd.addr.eq(row + 1)
                    m.d.sync += [row_pre.eq(pre_rd.data), group.eq(first)]
                    m.next = "VISIT"
            with m.State("VISIT"):
                address = row_base + group
                m.d.comb += [self.busy.eq(1), weight_rd.addr.eq(address), factor_rd.addr.eq(group),
                             self.lfsr_step.eq(1)]
                m.d.sync += [stage_valid.eq(1), stage_addr.eq(address), stage_pre.eq(row_pre)]
                saturating_increment(m, self.visits, 1)
                # Look one row ahead, so an active next row follows the last word without a CHECK cycle.
                m.d.comb += pre_rd.addr.eq(row + 1)
                with m.If(has_next):
                    m.d.sync += group.eq(following)
                with m.Elif(last_row):
                    m.next = "FLUSH"
                with m.Elif(pre_rd.data.trace != 0):
                    m.d.comb += [next_row.eq(row + 1), pre_rd.addr.eq(row + 2)]
                    m.d.sync += [row_base.eq(row_base + groups), row_pre.eq(pre_rd.data), group.eq(first)]
                with m.Elif(row + 1 == n_in - 1):
                    m.next = "FLUSH"
                with m.Else():
                    m.d.comb += [next_row.eq(row + 2), pre_rd.addr.eq(row + 2)]
                    m.d.sync += row_base.eq(row_base + 2 * groups)
                    m.next = "CHECK"
            with m.State("FLUSH"):
                m.d.comb += self.busy.eq(1)
                m.next = "IDLE"
        # Host writes only while idle; unconditional, so Icarus sees the enable from time 0.
        m.d.comb += weight_wr.en.eq(stage_valid | (self.weight_we & fsm.ongoing("IDLE")))
        saturating_increment(m, self.busy_cycles, self.busy)
        return m


class LayerUpdateWithBank(wiring.Component):
    """A layer's update wired to its own LFSR bank: a single layer's datapath as the benches test it."""

    BANK_PORTS = ("noise", "lfsr_step")

    def __init__(self, cfg: AcceleratorConfig, layer: int, words: torch.Tensor):
        self.bank = LfsrBank(cfg.lfsr, cfg.lanes)
        self.update = LayerUpdate(cfg, layer, words)
        members = self.update.signature.members
        super().__init__({name: member for name, member in members.items() if name not in self.BANK_PORTS})

    def elaborate(self, platform):
        m = Module()
        m.submodules.bank, m.submodules.update = self.bank, self.update
        m.d.comb += [self.update.noise.eq(self.bank.states), self.bank.step.eq(self.update.lfsr_step)]
        for name, member in self.signature.members.items():
            outer, inner = getattr(self, name), getattr(self.update, name)
            m.d.comb += inner.eq(outer) if member.flow == wiring.In else outer.eq(inner)
        return m
