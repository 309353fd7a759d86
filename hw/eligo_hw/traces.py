"""Trace update units: pre trace q per input, post trace h per neuron.

Both decay as floor(lambda * t) in the config's encoding and then add with a
saturating ceiling (``eligo.fixed.blocks.decay_trace``, ``update_pre_trace``,
``update_post_trace``). They are combinational: the engine reads a trace,
passes it through a unit and writes the result back in the same visit.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Value, unsigned
from amaranth.lib import wiring
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
