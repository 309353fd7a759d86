"""Trace update units: pre trace q per input, post trace h per neuron.

Both decay as floor(lambda * t) in the config's encoding and then add with a
saturating ceiling (``eligo.fixed.blocks.decay_trace``, ``update_pre_trace``,
``update_post_trace``). They are combinational: the engine reads a trace,
passes it through a unit and writes the result back in the same visit.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from eligo.config import PsiTable, TraceFormat
from eligo_hw.words import delayed


def decay_trace(trace: Value, code: int, fmt: TraceFormat) -> Value:
    """floor(lambda * trace): shift encoding as t - ceil(t / 2**k), multiply encoding as (t * m) >> frac."""
    if fmt.decay == "shift":
        return trace - ((trace + ((1 << code) - 1)) >> code)
    return (trace * code) >> fmt.decay_frac_bits


def add_up_to(value: Value, increment: Value, ceiling: int) -> Value:
    """min(value + increment, ceiling) for unsigned operands, truncated to the ceiling's width."""
    total = value + increment
    return Mux(total > ceiling, ceiling, total)[:ceiling.bit_length()]


class PreTraceUnit(wiring.Component):
    """q <- min(floor(lambda q) + pre_increment * spike, max); ``code`` is the layer's decay code."""

    def __init__(self, fmt: TraceFormat, code: int):
        self.fmt = fmt
        self.code = code
        super().__init__({
            "trace": In(unsigned(fmt.bits)),
            "spike": In(1),
            "updated": Out(unsigned(fmt.bits)),
        })

    def elaborate(self, platform):
        m = Module()
        increment = Mux(self.spike, self.fmt.pre_increment, 0)
        m.d.comb += self.updated.eq(add_up_to(decay_trace(self.trace, self.code, self.fmt), increment,
                                              self.fmt.max_value))
        return m


class PostTraceUnit(wiring.Component):
    """h <- min(floor(lambda_post h) + Psi, max)."""

    def __init__(self, fmt: TraceFormat, psi: PsiTable):
        self.fmt = fmt
        super().__init__({
            "trace": In(unsigned(fmt.bits)),
            "psi": In(unsigned(psi.bits)),
            "updated": Out(unsigned(fmt.bits)),
        })

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.updated.eq(add_up_to(decay_trace(self.trace, self.fmt.post_decay, self.fmt), self.psi,
                                              self.fmt.max_value))
        return m


def pre_words(n: int, lanes: int) -> int:
    """Memory words holding the pre traces of ``n`` inputs, ``lanes`` per word (input j in word j // lanes)."""
    return -(-n // lanes)


class PreTraceScan(wiring.Component):
    """Walks a layer's n pre traces once per step, P per cycle: read a word of q, write {q updated, x} back.

    Traces sit P per word (input j in word j // P, lane j % P), so a step's
    scan costs ceil(n / P) + 1 cycles. The trace memory is the update
    sequencer's (``LayerUpdate.pre_*``), so learning reads exactly what this
    wrote. ``clear`` walks writing zeros (a sample boundary); ``abort`` drops
    a walk in progress and clears instead. ``start``/``clear`` are taken
    while not ``busy``, ``abort`` at any time.
    """

    def __init__(self, fmt: TraceFormat, code: int, n: int, lanes: int):
        self.fmt = fmt
        self.code = code
        self.n = n
        self.lanes = lanes
        self.words = pre_words(n, lanes)
        layout = data.ArrayLayout(data.StructLayout({"trace": unsigned(fmt.bits), "spike": 1}), lanes)
        super().__init__({
            "start": In(1),
            "clear": In(1),
            "abort": In(1),
            "busy": Out(1),
            "spikes": In(n),
            "read_addr": Out(range(max(self.words, 2))),
            "read_data": In(layout),
            "write_en": Out(1),
            "write_addr": Out(range(max(self.words, 2))),
            "write_data": Out(layout),
        })

    def elaborate(self, platform):
        m = Module()
        word = Signal(range(max(self.words, 2)))
        walking, clearing = Signal(), Signal()
        stage_valid = Signal()
        stage_word = Signal(range(max(self.words, 2)))
        m.d.comb += [self.busy.eq(walking | clearing | stage_valid), self.read_addr.eq(word)]
        m.d.sync += [stage_valid.eq(walking), stage_word.eq(word)]
        with m.If(walking | clearing):
            m.d.sync += word.eq(word + 1)
            with m.If(word == self.words - 1):
                m.d.sync += [walking.eq(0), clearing.eq(0), word.eq(0)]
        with m.If(self.start):
            m.d.sync += walking.eq(1)
        with m.If(self.clear):
            m.d.sync += clearing.eq(1)
        with m.If(self.abort):
            m.d.sync += [walking.eq(0), clearing.eq(1), stage_valid.eq(0), word.eq(0)]
        # The word's spikes are selected with its read address and held beside it: the wide select is not in front
        # of the trace arithmetic (the spikes do not change while the scan walks).
        padded = Cat(self.spikes, Const(0, self.words * self.lanes - self.n))
        spikes = delayed(m, padded.word_select(word, self.lanes), name="stage_spikes")
        for lane in range(self.lanes):
            unit = PreTraceUnit(self.fmt, self.code)
            m.submodules[f"unit{lane}"] = unit
            m.d.comb += [unit.trace.eq(self.read_data[lane].trace), unit.spike.eq(spikes[lane]),
                         self.write_data[lane].trace.eq(Mux(clearing, 0, unit.updated)),
                         self.write_data[lane].spike.eq(~clearing & spikes[lane])]
        m.d.comb += [self.write_en.eq(stage_valid | clearing), self.write_addr.eq(Mux(clearing, word, stage_word))]
        return m
