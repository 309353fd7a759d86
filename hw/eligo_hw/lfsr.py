"""The lanes' stochastic-rounding noise: one Galois LFSR register per lane.

Matches ``eligo.fixed.lfsr``: every register of a bank steps on the same
strobe (once per weight word its walk visits); bank ``index`` of ``count``
holds lanes index * P to index * P + P - 1 of ``lane_seeds(fmt, count * P)``
(``walk_registers`` numbers them: one per layer and update bank), so after n
strobes its lane l holds ``lane_states(fmt, count * P, n)[index * P + l]``.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, Value, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from eligo.config import LfsrFormat
from eligo.fixed.lfsr import lane_seeds


def galois_step(state: Value, fmt: LfsrFormat) -> Value:
    """One step: shift right, XOR the taps in when the bit shifted out was 1."""
    return (state >> 1) ^ Mux(state[0], fmt.taps, 0)


class LfsrBank(wiring.Component):
    """``lanes`` LFSRs stepped together, bank ``index`` of ``count``; ``states`` is the noise the update lanes
    read."""

    def __init__(self, fmt: LfsrFormat, lanes: int, index: int = 0, count: int = 1):
        self.fmt = fmt
        self.lanes = lanes
        self.layout = data.ArrayLayout(unsigned(fmt.bits), lanes)
        seeds = lane_seeds(fmt, lanes * count)[index * lanes:(index + 1) * lanes]
        super().__init__({
            "step": In(1),
            "states": Out(self.layout, init=seeds),
        })

    def elaborate(self, platform):
        m = Module()
        with m.If(self.step):
            for lane in range(self.lanes):
                m.d.sync += self.states[lane].eq(galois_step(self.states[lane], self.fmt))
        return m
