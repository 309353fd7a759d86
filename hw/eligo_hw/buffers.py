"""Stream buffers of the serial bridge: ``lib.fifo`` queues behind ``lib.stream`` and AXI-stream ports.

Each is a thin wiring of one or two Amaranth FIFOs, kept as components so their
handshakes and ordering can be proved on their own (``tests/test_formal_bridge.py``):

* ``StreamFifo``: a stream in, the same words out in order (``SyncFIFOBuffered``,
  block-RAM friendly, or ``SyncFIFO`` with its combinational read);
* ``AxiStreamFifo``: the same for AXI-stream words, TLAST travelling with TDATA;
* ``PacketBuffer``: AXI-stream packets in, their words out on one stream and, once
  a packet's TLAST is in, its length on another; held (TREADY low) while either
  queue is full, so no word or length is lost.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from eligo.regmap import DATA_BITS
from eligo_hw.top import AxiStreamSignature


class StreamFifo(wiring.Component):
    """``width``-bit words from ``w`` to ``r`` in order, ``depth`` of them held; ``buffered`` selects
    ``SyncFIFOBuffered`` (registered output, one more cycle from empty to out) over ``SyncFIFO``."""

    def __init__(self, width: int, depth: int, buffered: bool = True):
        self.width, self.depth, self.buffered = width, depth, buffered
        super().__init__({"w": In(stream.Signature(width)), "r": Out(stream.Signature(width))})

    def elaborate(self, platform):
        m = Module()
        queue_class = fifo.SyncFIFOBuffered if self.buffered else fifo.SyncFIFO
        m.submodules.queue = queue = queue_class(width=self.width, depth=self.depth)
        m.d.comb += [queue.w_data.eq(self.w.payload), queue.w_en.eq(self.w.valid), self.w.ready.eq(queue.w_rdy),
                     self.r.payload.eq(queue.r_data), self.r.valid.eq(queue.r_rdy), queue.r_en.eq(self.r.ready)]
        return m


class AxiStreamFifo(wiring.Component):
    """AXI-stream words (TDATA with TLAST) from ``s_axis`` to ``m_axis`` in order; ``depth`` held."""

    def __init__(self, depth: int):
        self.depth = depth
        super().__init__({"s_axis": In(AxiStreamSignature), "m_axis": Out(AxiStreamSignature)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.words = words = StreamFifo(DATA_BITS + 1, self.depth)
        inbound, outbound = self.s_axis, self.m_axis
        m.d.comb += [words.w.payload.eq(Cat(inbound.tdata, inbound.tlast)), words.w.valid.eq(inbound.tvalid),
                     inbound.tready.eq(words.w.ready),
                     Cat(outbound.tdata, outbound.tlast).eq(words.r.payload), outbound.tvalid.eq(words.r.valid),
                     words.r.ready.eq(outbound.tready)]
        return m


class PacketBuffer(wiring.Component):
    """``s_axis`` packets into ``words`` (``depth`` words held) and, at each TLAST, the packet's length into
    ``lengths`` (``max_packets`` held)."""

    def __init__(self, depth: int, max_packets: int):
        self.depth, self.max_packets = depth, max_packets
        self.length_shape = range(depth + 1)
        super().__init__({"s_axis": In(AxiStreamSignature), "words": Out(stream.Signature(DATA_BITS)),
                          "lengths": Out(stream.Signature(len(Signal(self.length_shape))))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.words = words = StreamFifo(DATA_BITS, self.depth)
        m.submodules.lengths = lengths = StreamFifo(len(self.lengths.payload), self.max_packets, buffered=False)
        filling = Signal.like(lengths.w.payload)  # words of the packet coming in, taken so far
        inbound = self.s_axis
        m.d.comb += [inbound.tready.eq(words.w.ready & lengths.w.ready), words.w.payload.eq(inbound.tdata),
                     words.w.valid.eq(inbound.tvalid & inbound.tready),
                     lengths.w.payload.eq(filling + 1), lengths.w.valid.eq(words.w.valid & inbound.tlast)]
        with m.If(words.w.valid):
            m.d.sync += filling.eq(Mux(inbound.tlast, 0, filling + 1))
        wiring.connect(m, words.r, wiring.flipped(self.words))
        wiring.connect(m, lengths.r, wiring.flipped(self.lengths))
        return m
