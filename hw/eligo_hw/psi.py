"""Psi lookup: one subtract, an absolute value, a shift and a small ROM (``eligo.fixed.blocks.psi_lookup``)."""

from __future__ import annotations

from amaranth.hdl import Array, Module, Mux, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from eligo.config import NeuronFormat, PsiTable


class PsiLookup(wiring.Component):
    """Psi of the integrated membrane (before reset): values[|v - threshold| >> index_shift], 0 past the table.

    The table is a handful of entries, so it is a LUT ROM (an ``Array`` of
    constants) that each lane can own, rather than a shared block RAM.
    """

    def __init__(self, neuron: NeuronFormat, table: PsiTable):
        self.neuron = neuron
        self.table = table
        super().__init__({
            "integrated": In(signed(neuron.membrane_bits)),
            "psi": Out(unsigned(table.bits)),
        })

    def elaborate(self, platform):
        m = Module()
        table = self.table
        distance = (self.integrated - self.neuron.threshold).as_signed()
        index = (Mux(distance < 0, -distance, distance).as_unsigned()) >> table.index_shift
        rom = Array(table.values)
        m.d.comb += self.psi.eq(Mux(index < len(table.values), rom[index], 0))
        return m
