"""Formal properties of the serial bridge's buffers and stream handshakes, each with a broken twin that must FAIL.

The bridge's queues (``eligo_hw.buffers``: the request-byte FIFO, the event hand-over to the top, the output
packet buffer) are proved at the sizes the bridge builds them, and the bridge itself for the handshakes of
every stream it drives. Harnesses count words from reset (``free_initial_state`` off, as in
``test_formal_streams.py``); ``prove`` is k-induction. Ordering is proved with one tracked word: the
solver picks any index n (``AnyConst``), the harness records the n-th word taken in and asserts that the
n-th word given out equals it, so with every n possible no word is lost, duplicated, changed or reordered.
For the induction to close, the FIFO's pointers and the row that holds the tracked word are read from the
elaborated ``lib.fifo`` (``subfragment``, ``memory_row``: white-box) and asserted consistent with the
harness's counts.
"""

from __future__ import annotations

import pytest
from amaranth.asserts import AnyConst, AnySeq
from amaranth.hdl import Assert, Assume, Cat, Cover, Mux, Signal
from amaranth.utils import ceil_log2

from eligo import serial_protocol as protocol
from eligo_hw.buffers import AxiStreamFifo, PacketBuffer, StreamFifo
from eligo_hw.formal import after_first_step, assigned, inside, memory_row, subfragment
from eligo_hw.uart import EVENT_FIFO_WORDS, REQUEST_FIFO_BYTES, SerialBridge
from tests.test_formal import assert_verdict
from tests.test_formal_streams import assert_stable_until_taken

FIFO_DEPTH = 24
"""Cycles from reset within which the covers (a queue filled, then emptied through its output) are reached."""


def drive(m, *signals) -> None:
    m.d.comb += [signal.eq(AnySeq(len(signal))) for signal in signals]


def assert_in_order(m, queue, depth: int, buffered: bool, taken, word_in, given, word_out, name: str) -> Signal:
    """Words given out are the words taken in, in order, none lost or repeated; returns the words held.

    ``queue`` is the elaborated ``lib.fifo`` that holds them (``SyncFIFOBuffered`` when ``buffered``: a
    memory of ``depth - 1`` rows and an output register; else ``SyncFIFO``: ``depth`` rows). ``taken`` and
    ``given`` are the handshakes at the block's ports, so a word taken but not stored fails too.
    """
    bits = ceil_log2(depth) + 2
    rows = depth - 1 if buffered else depth
    names = ("produce", "consume", "inner_level", "r_rdy", "r_data") if buffered else ("produce", "consume", "level")
    state = assigned(queue, *names, owner=f"the {name} FIFO")
    in_memory = state["inner_level" if buffered else "level"]
    in_register = state["r_rdy"] if buffered else 0
    produce, consume = state["produce"], state["consume"]

    written, read = Signal(bits, name=f"{name}_written"), Signal(bits, name=f"{name}_read")
    m.d.sync += [written.eq(written + taken), read.eq(read + given)]
    held = Signal(bits, name=f"{name}_held")
    m.d.comb += held.eq(written - read)
    tag = AnyConst(bits)
    tracked = Signal.like(word_in, name=f"{name}_tracked")
    with m.If(taken & (written == tag)):
        m.d.sync += tracked.eq(word_in)
    with m.If(given & (read == tag)):
        m.d.comb += Assert(word_out == tracked)

    # The queue's own bookkeeping, and where the tracked word sits while it is held.
    m.d.comb += [Assert(held == in_memory + in_register), Assert(in_memory <= rows),
                 Assert(Mux(produce >= consume, produce - consume, rows + produce - consume)
                        == Mux(in_memory == rows, 0, in_memory))]
    if rows > 1:
        m.d.comb += [Assert(produce < rows), Assert(consume < rows)]
    ahead = Signal(bits, name=f"{name}_ahead")
    m.d.comb += ahead.eq(tag - read)
    offset = Signal(bits, name=f"{name}_offset")
    m.d.comb += offset.eq(ahead - in_register)
    row = Signal(range(2 * rows), name=f"{name}_row")
    m.d.comb += row.eq(consume + offset)
    stored = memory_row(subfragment(queue, "storage"), Mux(row >= rows, row - rows, row))
    with m.If(ahead < held):
        if buffered:
            with m.If(in_register & (ahead == 0)):
                m.d.comb += Assert(state["r_data"] == tracked)
            with m.Else():
                m.d.comb += Assert(stored == tracked)
        else:
            m.d.comb += Assert(stored == tracked)
    m.d.comb += Cover(after_first_step() & (held == 0) & (read == depth + 1))
    return held


# --- StreamFifo (the request bytes) and AxiStreamFifo (the event words handed to the top) --------------------------

class FifoTakingWhenFull(StreamFifo):
    """Broken: always ready, so a word offered while the queue is full is taken and lost."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        m.d.comb += self.w.ready.eq(1)
        return m


def withdraw_after_a_stall(m, valid, ready) -> None:
    """The bug the broken twins below add: a word offered and not taken is withdrawn for the next cycle."""
    stalled = Signal()
    m.d.sync += stalled.eq(valid & ~ready)
    with m.If(stalled):
        m.d.comb += valid.eq(0)


class FifoWithdrawingWord(StreamFifo):
    """Broken: the word on offer is withdrawn the cycle after the sink stalls (and read if the sink is ready)."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        withdraw_after_a_stall(m, self.r.valid, self.r.ready)
        return m


class FifoRepeatingWords(StreamFifo):
    """Broken: every other word given is kept in the queue and given again."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        again = Signal()
        with m.If(self.r.valid & self.r.ready):
            m.d.sync += again.eq(~again)
        m.d.comb += m.submodules.queue.r_en.eq(self.r.ready & again)
        return m


def stream_fifo_properties(width: int, depth: int, fifo_class=StreamFifo):
    """``r`` holds valid and payload until taken, and gives the words ``w`` took, in order."""
    def build(m):
        queue = fifo_class(width, depth)
        fragment = m.submodules.fifo = inside(queue)[0]
        drive(m, queue.w.valid, queue.w.payload, queue.r.ready)
        assert_stable_until_taken(m, queue.r.valid, queue.r.ready, queue.r.payload, "r")
        held = assert_in_order(m, subfragment(fragment, "queue"), depth, True, queue.w.valid & queue.w.ready,
                               queue.w.payload, queue.r.valid & queue.r.ready, queue.r.payload, "words")
        m.d.comb += Cover(held == depth)
    return build


class AxiFifoDroppingLast(AxiStreamFifo):
    """Broken: TLAST is not passed on (the top would never see a sample's END word end its packet)."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        m.d.comb += self.m_axis.tlast.eq(0)
        return m


def axi_fifo_properties(depth: int, fifo_class=AxiStreamFifo):
    """``m_axis`` holds TVALID, TDATA and TLAST until TREADY, and gives the words ``s_axis`` took, in order."""
    def build(m):
        queue = fifo_class(depth)
        fragment = m.submodules.fifo = inside(queue)[0]
        inbound, outbound = queue.s_axis, queue.m_axis
        drive(m, inbound.tvalid, inbound.tdata, inbound.tlast, outbound.tready)
        assert_stable_until_taken(m, outbound.tvalid, outbound.tready, Cat(outbound.tdata, outbound.tlast), "out")
        held = assert_in_order(m, subfragment(fragment, "words", "queue"), depth, True,
                               inbound.tvalid & inbound.tready, Cat(inbound.tdata, inbound.tlast),
                               outbound.tvalid & outbound.tready, Cat(outbound.tdata, outbound.tlast), "events")
        m.d.comb += Cover(held == depth)
    return build


def test_request_byte_fifo_keeps_every_byte_in_order(tmp_path):
    assert_verdict(stream_fifo_properties(8, REQUEST_FIFO_BYTES), tmp_path, "PASS", mode="prove", depth=3,
                   free_initial_state=False)
    assert_verdict(stream_fifo_properties(8, REQUEST_FIFO_BYTES), tmp_path / "cover", "PASS", mode="cover",
                   depth=2 * REQUEST_FIFO_BYTES + 4, free_initial_state=False)


@pytest.mark.parametrize("depth", [2, EVENT_FIFO_WORDS])  # the iCEBreaker's hand-over and the default one
def test_event_hand_over_keeps_every_word_in_order(depth, tmp_path):
    assert_verdict(axi_fifo_properties(depth), tmp_path, "PASS", mode="prove", depth=3, free_initial_state=False)
    assert_verdict(axi_fifo_properties(depth), tmp_path / "cover", "PASS", mode="cover", depth=FIFO_DEPTH,
                   free_initial_state=False)


@pytest.mark.parametrize("broken", [FifoTakingWhenFull, FifoWithdrawingWord, FifoRepeatingWords],
                         ids=lambda c: c.__name__)
def test_broken_stream_fifos_fail(broken, tmp_path):
    assert_verdict(stream_fifo_properties(8, 4, broken), tmp_path, "FAIL", mode="bmc", depth=FIFO_DEPTH,
                   free_initial_state=False)


def test_event_hand_over_dropping_tlast_fails(tmp_path):
    assert_verdict(axi_fifo_properties(EVENT_FIFO_WORDS, AxiFifoDroppingLast), tmp_path, "FAIL", mode="bmc",
                   depth=FIFO_DEPTH, free_initial_state=False)


# --- PacketBuffer: the top's output packets, their words and lengths -----------------------------------------------

PACKET_BUFFER = {"depth": 4, "max_packets": 2}
"""The smallest bridge buffer (``SerialBridge(4, 2)``): a depth reached in few cycles, both queues fill."""


class PacketBufferIgnoringFullLengths(PacketBuffer):
    """Broken: TREADY looks only at the word queue, so a TLAST taken while the length queue is full loses a length."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        m.d.comb += self.s_axis.tready.eq(m.submodules.words.w.ready)
        return m


class PacketBufferLengthOnEveryWord(PacketBuffer):
    """Broken: a length is queued for every word, not only at TLAST."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        m.d.comb += m.submodules.lengths.w.valid.eq(m.submodules.words.w.valid)
        return m


def packet_buffer_properties(buffer_class=PacketBuffer):
    """Words out in order (as above); the k-th length given is the number of words of the k-th packet taken
    (its TLAST word included); both outputs hold valid and payload until taken. Packets are at most ``depth``
    words (assumed: the bridge's buffer holds a whole packet, ``output_depth_for``)."""
    depth, max_packets = PACKET_BUFFER["depth"], PACKET_BUFFER["max_packets"]

    def build(m):
        packets = buffer_class(depth, max_packets)
        fragment, state = inside(packets, "filling")
        m.submodules.packets = fragment
        inbound, words, lengths = packets.s_axis, packets.words, packets.lengths
        drive(m, inbound.tvalid, inbound.tdata, inbound.tlast, words.ready, lengths.ready)
        taken = inbound.tvalid & inbound.tready
        in_packet = Signal.like(state["filling"], name="in_packet")
        with m.If(taken):
            m.d.sync += in_packet.eq(Mux(inbound.tlast, 0, in_packet + 1))
        m.d.comb += [Assume(~inbound.tvalid | inbound.tlast | (in_packet < depth - 1)),
                     Assert(in_packet < depth), Assert(state["filling"] == in_packet)]
        assert_stable_until_taken(m, words.valid, words.ready, words.payload, "words")
        assert_stable_until_taken(m, lengths.valid, lengths.ready, lengths.payload, "lengths")
        held_words = assert_in_order(m, subfragment(fragment, "words", "queue"), depth, True, taken, inbound.tdata,
                                     words.valid & words.ready, words.payload, "words")
        held_lengths = assert_in_order(m, subfragment(fragment, "lengths", "queue"), max_packets, False,
                                       taken & inbound.tlast, in_packet + 1, lengths.valid & lengths.ready,
                                       lengths.payload, "lengths")
        m.d.comb += [Cover((held_words == depth) & (held_lengths == max_packets)),
                     Cover(lengths.valid & lengths.ready & (lengths.payload == 3))]
    return build


def test_packet_buffer_keeps_every_word_and_length(tmp_path):
    assert_verdict(packet_buffer_properties(), tmp_path, "PASS", mode="prove", depth=3, free_initial_state=False)
    assert_verdict(packet_buffer_properties(), tmp_path / "cover", "PASS", mode="cover", depth=FIFO_DEPTH,
                   free_initial_state=False)


@pytest.mark.parametrize("broken", [PacketBufferIgnoringFullLengths, PacketBufferLengthOnEveryWord],
                         ids=lambda c: c.__name__)
def test_broken_packet_buffers_fail(broken, tmp_path):
    assert_verdict(packet_buffer_properties(broken), tmp_path, "FAIL", mode="bmc", depth=FIFO_DEPTH,
                   free_initial_state=False)


# --- SerialBridge: every stream and bus channel it drives holds until taken -----------------------------------------

BRIDGE_DEPTH = 16
"""Cycles from reset within which the bridge's covers, and its broken twins' counterexamples, are reached: a
one-word SEND frame (sync, three header bytes, four payload bytes, CRC) stalled on its word, and an answer
stalled on its first byte."""


class BridgeWithdrawingAnswer(SerialBridge):
    """Broken: an answer byte is withdrawn the cycle after the transmitter stalls it."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        withdraw_after_a_stall(m, self.answers.valid, self.answers.ready)
        return m


class BridgeWithdrawingEvent(SerialBridge):
    """Broken: a SEND word is withdrawn the cycle after the top stalls it."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        withdraw_after_a_stall(m, self.m_axis.tvalid, self.m_axis.tready)
        return m


class BridgeWithdrawingRead(SerialBridge):
    """Broken: a register read's address is withdrawn the cycle after the register file stalls it."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        withdraw_after_a_stall(m, self.m_axil.arvalid, self.m_axil.arready)
        return m


def bridge_properties(bridge_class=SerialBridge):
    """Under any request bytes, any answers back-pressure, any register file and any top, the bridge holds:
    ``answers`` valid and byte until taken; ``m_axis`` TVALID, TDATA and TLAST until TREADY; ``m_axil``
    ARVALID with ARADDR, AWVALID with AWADDR and WVALID with WDATA/WSTRB until their READY. The word on
    ``m_axis`` is the send buffer's row ``index`` (white-box, ties the buffer's read register to the
    memory so the induction closes)."""
    def build(m):
        bridge = bridge_class(PACKET_BUFFER["depth"], PACKET_BUFFER["max_packets"])
        fragment, state = inside(bridge, "index")
        m.submodules.bridge = fragment
        bus, events = bridge.m_axil, bridge.m_axis
        drive(m, bridge.requests.valid, bridge.requests.payload, bridge.answers.ready,
              bus.awready, bus.wready, bus.bresp, bus.bvalid, bus.arready, bus.rdata, bus.rresp, bus.rvalid,
              events.tready, bridge.s_axis.tvalid, bridge.s_axis.tdata, bridge.s_axis.tlast)
        assert_stable_until_taken(m, bridge.answers.valid, bridge.answers.ready, bridge.answers.payload, "answers")
        assert_stable_until_taken(m, events.tvalid, events.tready, Cat(events.tdata, events.tlast), "events")
        assert_stable_until_taken(m, bus.arvalid, bus.arready, bus.araddr, "ar")
        assert_stable_until_taken(m, bus.awvalid, bus.awready, bus.awaddr, "aw")
        assert_stable_until_taken(m, bus.wvalid, bus.wready, Cat(bus.wdata, bus.wstrb), "w")
        with m.If(events.tvalid):
            m.d.comb += Assert(events.tdata == memory_row(subfragment(fragment, "send_buffer"), state["index"]))
        m.d.comb += [Cover(events.tvalid & ~events.tready & events.tlast),
                     Cover(bridge.answers.valid & ~bridge.answers.ready & (bridge.answers.payload == protocol.SYNC))]
    return build


def test_bridge_holds_every_handshake(tmp_path):
    assert_verdict(bridge_properties(), tmp_path, "PASS", mode="prove", depth=3, free_initial_state=False)
    assert_verdict(bridge_properties(), tmp_path / "cover", "PASS", mode="cover", depth=BRIDGE_DEPTH,
                   free_initial_state=False)


@pytest.mark.parametrize("broken", [BridgeWithdrawingAnswer, BridgeWithdrawingEvent, BridgeWithdrawingRead],
                         ids=lambda c: c.__name__)
def test_broken_bridges_fail(broken, tmp_path):
    assert_verdict(bridge_properties(broken), tmp_path, "FAIL", mode="bmc", depth=BRIDGE_DEPTH, free_initial_state=False)
