"""A register slice for ``lib.stream``: every output of it, ``i.ready`` included, is a flop.

A stream handshake is combinational end to end: the receiver's ``ready`` decides,
in the same cycle, whether the sender pops its queue. Across the accelerator
(event FIFO -> decoder -> sequence check -> engine) that chain was the critical
path of the 75 MHz builds. ``SkidBuffer`` cuts it in both directions at the cost of
one cycle of latency and no throughput: it holds one word on ``o`` and, when ``o``
stalls in the cycle a word comes in, one more in its skid register; ``i.ready`` is
low only while that register is full.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out


class SkidBuffer(wiring.Component):
    """Words of ``shape`` from ``i`` to ``o`` in order, none lost, through registers only.

    ``flush`` (a pulse) forgets both words held; a word offered on ``i`` in that cycle is not taken.
    ``registered=False`` makes it a wire (``i`` is ``o``, nothing held, ``flush`` only refuses ``i``), for a
    part whose clock needs no slice and whose area cannot spare its flip-flops.
    """

    def __init__(self, shape, registered: bool = True):
        self.shape, self.registered = shape, registered
        super().__init__({"i": In(stream.Signature(shape)), "o": Out(stream.Signature(shape)), "flush": In(1)})

    def elaborate(self, platform):
        m = Module()
        if not self.registered:
            m.d.comb += [self.o.payload.eq(self.i.payload), self.o.valid.eq(self.i.valid & ~self.flush),
                         self.i.ready.eq(self.o.ready & ~self.flush)]
            return m
        skid_valid = Signal()
        skid = Signal(self.shape)
        m.d.comb += self.i.ready.eq(~skid_valid & ~self.flush)
        taken = self.i.valid & self.i.ready
        with m.If(self.flush):
            m.d.sync += [self.o.valid.eq(0), skid_valid.eq(0)]
        with m.Elif(~self.o.valid | self.o.ready):  # ``o`` is free next cycle: the oldest word goes there
            m.d.sync += [self.o.valid.eq(skid_valid | taken),
                         self.o.payload.eq(Mux(skid_valid, skid, self.i.payload)), skid_valid.eq(0)]
        with m.Elif(taken):  # ``o`` stalls: the word waits beside it
            m.d.sync += [skid.eq(self.i.payload), skid_valid.eq(1)]
        return m
