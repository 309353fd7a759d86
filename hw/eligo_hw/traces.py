"""Trace update units: pre trace q per input, post trace h per neuron.

Both decay as floor(lambda * t) in the config's encoding and then add with a
saturating ceiling (``eligo.fixed.blocks.decay_trace``, ``update_pre_trace``,
``update_post_trace``). They are combinational: the engine reads a trace,
passes it through a unit and writes the result back in the same visit.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, Value, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from eligo.config import PsiTable, TraceFormat


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


class PreTraceScan(wiring.Component):
    """Walks a layer's n pre traces once per step, one per cycle: read q_j, write {q_j updated, x_j}.

    The trace memory is the update sequencer's (``LayerUpdate.pre_*``), so
    learning reads exactly what this wrote. ``clear`` walks writing zeros (a
    sample boundary). ``start``/``clear`` are taken while not ``busy``.
    """

    def __init__(self, fmt: TraceFormat, code: int, n: int):
        self.fmt = fmt
        self.code = code
        self.n = n
        layout = data.StructLayout({"trace": unsigned(fmt.bits), "spike": 1})
        super().__init__({
            "start": In(1),
            "clear": In(1),
            "busy": Out(1),
            "spikes": In(n),
            "read_addr": Out(range(n)),
            "read_data": In(layout),
            "write_en": Out(1),
            "write_addr": Out(range(n)),
            "write_data": Out(layout),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.unit = unit = PreTraceUnit(self.fmt, self.code)
        row = Signal(range(self.n))
        walking, clearing = Signal(), Signal()
        stage_valid = Signal()
        stage_row = Signal(range(self.n))
        m.d.comb += [self.busy.eq(walking | clearing | stage_valid), self.read_addr.eq(row)]
        m.d.sync += [stage_valid.eq(walking), stage_row.eq(row)]
        with m.If(walking | clearing):
            m.d.sync += row.eq(row + 1)
            with m.If(row == self.n - 1):
                m.d.sync += [walking.eq(0), clearing.eq(0), row.eq(0)]
        with m.If(self.start):
            m.d.sync += walking.eq(1)
        with m.If(self.clear):
            m.d.sync += clearing.eq(1)
        spike = self.spikes.bit_select(stage_row, 1)
        m.d.comb += [unit.trace.eq(self.read_data.trace), unit.spike.eq(spike)]
        with m.If(stage_valid):
            m.d.comb += [self.write_en.eq(1), self.write_addr.eq(stage_row),
                         self.write_data.trace.eq(unit.updated), self.write_data.spike.eq(spike)]
        with m.If(clearing):
            m.d.comb += [self.write_en.eq(1), self.write_addr.eq(row)]
        return m
