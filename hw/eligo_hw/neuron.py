"""A single integer LIF neuron: the tracer bullet through every tool.

It implements ``eligo.fixed.lif.lif_step`` exactly: on a cycle with ``step``
high the membrane leaks, integrates ``current`` with saturation, fires and
resets; ``spike`` pulses for the cycle after a firing step.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from eligo.config import NeuronFormat
from eligo_hw.arith import saturate


class LIFNeuron(wiring.Component):
    def __init__(self, fmt: NeuronFormat):
        self.fmt = fmt
        super().__init__({
            "step": In(1),
            "current": In(signed(fmt.input_bits)),
            "spike": Out(1),
            "membrane": Out(signed(fmt.membrane_bits)),
        })

    def elaborate(self, platform):
        m = Module()
        fmt = self.fmt
        v = self.membrane
        leaked = v - (v >> fmt.leak_shift)
        integrated = saturate(leaked + self.current, fmt.membrane_bits)
        fired = integrated >= fmt.threshold
        if fmt.reset == "subtract":
            after_reset = Mux(fired, integrated - fmt.threshold, integrated)
        else:
            after_reset = Mux(fired, 0, integrated)

        m.d.sync += self.spike.eq(0)
        with m.If(self.step):
            m.d.sync += [v.eq(after_reset), self.spike.eq(fired)]
        return m
