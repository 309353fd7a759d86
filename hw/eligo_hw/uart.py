"""The ``serial`` transport's device end: an 8N1 UART and the frame bridge onto the top's registers and streams.

``SerialBridge`` here is the hardware twin of ``eligo.driver.serial.SerialBridge``
(the executable specification): same frames (``eligo.serial_protocol``), same CRC-8, same statuses, same
resynchronisation. It parses request bytes, buffers a whole frame's payload
and checks its CRC before acting, so a BAD_FRAME has done nothing:

* READ / WRITE become one AXI4-Lite transaction on ``m_axil``; a SLVERR
  response answers SLVERR (the register file has raised ERROR.bus_error).
* SEND fills a 256-word buffer, then pushes its words into ``m_axis`` under
  back-pressure: no word is dropped, and OK is answered once the last is taken.
* RECV answers EMPTY unless a whole output packet (TLAST seen) is buffered;
  ``s_axis`` fills an output FIFO and a FIFO of packet lengths (a
  ``PacketBuffer``), and is held (back-pressure on the top) while either is full.

Bytes that arrive while the bridge answers or executes a request wait in a
16-byte FIFO, so a host may send the next request before the answer has come
(``SerialTransport`` waits for it); bytes beyond that are lost, and the host
resynchronises as the protocol says.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from eligo.config import AcceleratorConfig
from eligo import serial_protocol as protocol
from eligo.layout import output_length
from eligo.regmap import DATA_BITS
from eligo_hw.axil import OKAY, AxiLiteSignature
from eligo_hw.buffers import AxiStreamFifo, PacketBuffer, StreamFifo
from eligo_hw.skid import SkidBuffer
from eligo_hw.top import Accelerator, AxiStreamSignature

DEFAULT_BAUD = 115_200
MIN_CLOCKS_PER_BIT = 4
MAX_BAUD_ERROR = 0.02
WORD_BYTES = DATA_BITS // 8
REQUEST_FIFO_BYTES = 16
EVENT_FIFO_WORDS = 4


def clocks_per_bit(clock_hz: float, baud: int) -> int:
    """The baud divider; the rate it gives must be within 2 % of ``baud`` (an 8N1 receiver's margin)."""
    if baud <= 0:
        raise ValueError(f"baud rate must be positive, got {baud}")
    divider = round(clock_hz / baud)
    if divider < MIN_CLOCKS_PER_BIT:
        raise ValueError(f"a {clock_hz / 1e6:g} MHz clock gives {divider} clocks per bit at {baud} baud; "
                         f"the receiver needs at least {MIN_CLOCKS_PER_BIT}")
    error = abs(clock_hz / divider - baud) / baud
    if error > MAX_BAUD_ERROR:
        raise ValueError(f"{baud} baud from {clock_hz / 1e6:g} MHz is {error:.1%} off (at most "
                         f"{MAX_BAUD_ERROR:.0%})")
    return divider


def _check_divider(divider: int) -> None:
    if divider < MIN_CLOCKS_PER_BIT:
        raise ValueError(f"clocks per bit must be at least {MIN_CLOCKS_PER_BIT}, got {divider}")


class UartRx(wiring.Component):
    """8N1 receiver: ``rx`` (idle high) in, received bytes out; a byte with a bad stop bit is dropped.

    Each bit is sampled once, in its middle. ``bytes`` holds one byte until it is taken; a byte
    completed before that is lost.
    """

    def __init__(self, divider: int):
        _check_divider(divider)
        self.divider = divider
        super().__init__({"rx": In(1, init=1), "bytes": Out(stream.Signature(8))})

    def elaborate(self, platform):
        m = Module()
        line = Signal(init=1)
        m.submodules.sync_rx = FFSynchronizer(self.rx, line, init=1)
        timer = Signal(range(self.divider * 3 // 2 + 1))
        shift = Signal(8)  # data bits, shifted in from the top
        bits = Signal(range(9))
        with m.If(self.bytes.ready):
            m.d.sync += self.bytes.valid.eq(0)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(~line):  # the start bit's edge: sample the first data bit one and a half bits on
                    m.d.sync += [timer.eq(self.divider * 3 // 2 - 1), bits.eq(0)]
                    m.next = "BITS"
            with m.State("BITS"):
                m.d.sync += timer.eq(timer - 1)
                with m.If(timer == 0):
                    m.d.sync += [bits.eq(bits + 1), timer.eq(self.divider - 1)]
                    with m.If(bits != 8):
                        m.d.sync += shift.eq(Cat(shift[1:], line))
                    # The stop bit, sampled in its middle: back to IDLE at once, in time for the next start edge.
                    with m.Elif(line):
                        with m.If(~self.bytes.valid | self.bytes.ready):
                            m.d.sync += [self.bytes.payload.eq(shift), self.bytes.valid.eq(1)]
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "WAIT_IDLE"
            with m.State("WAIT_IDLE"):  # after a framing error the line may still be low
                with m.If(line):
                    m.next = "IDLE"
        return m


class UartTx(wiring.Component):
    """8N1 transmitter: bytes in, ``tx`` (idle high) out."""

    def __init__(self, divider: int):
        _check_divider(divider)
        self.divider = divider
        super().__init__({"bytes": In(stream.Signature(8)), "tx": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        timer = Signal(range(self.divider))
        shift = Signal(10, init=1)  # start bit, eight data bits, stop bit; the line is its lowest bit
        left = Signal(range(11))
        m.d.comb += [self.tx.eq(shift[0]), self.bytes.ready.eq(left == 0)]
        with m.If(self.bytes.valid & self.bytes.ready):
            m.d.sync += [shift.eq(Cat(Const(0, 1), self.bytes.payload, Const(1, 1))), left.eq(10),
                         timer.eq(self.divider - 1)]
        with m.Elif(left != 0):
            m.d.sync += timer.eq(timer - 1)
            with m.If(timer == 0):
                m.d.sync += [shift.eq(Cat(shift[1:], Const(1, 1))), left.eq(left - 1), timer.eq(self.divider - 1)]
        return m


def crc8_next(crc, byte):
    """CRC-8 (polynomial 0x07, MSB first) after one more byte: ``eligo.serial_protocol.crc8`` in logic.

    The CRC is linear in ``crc ^ byte``, so each output bit is the parity of the input bits whose
    one-hot byte sets it in the specification's table.
    """
    value = crc ^ byte
    return Cat(Cat(value[i] for i in range(8) if protocol.CRC8_TABLE[1 << i] >> bit & 1).xor() for bit in range(8))


class SerialBridge(wiring.Component):
    """Request bytes in, answer bytes out; registers through ``m_axil``, events out ``m_axis``, packets in
    ``s_axis`` (``output_depth`` words buffered; it must hold a whole packet)."""

    def __init__(self, output_depth: int, max_packets: int = 4):
        if output_depth < 2 or output_depth & (output_depth - 1):
            raise ValueError(f"output_depth must be a power of two of at least 2, got {output_depth}")
        self.output_depth, self.max_packets = output_depth, max_packets
        super().__init__({"requests": In(stream.Signature(8)), "answers": Out(stream.Signature(8)),
                          "m_axil": Out(AxiLiteSignature()), "m_axis": Out(AxiStreamSignature),
                          "s_axis": In(AxiStreamSignature)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.packets = packets = PacketBuffer(self.output_depth, self.max_packets)
        wiring.connect(m, wiring.flipped(self.s_axis), packets.s_axis)
        self._words, self._lengths = packets.words, packets.lengths
        send_buffer = Memory(shape=DATA_BITS, depth=protocol.MAX_SEND_WORDS, init=[])
        m.submodules.send_buffer = send_buffer
        buffer_write, buffer_read = send_buffer.write_port(), send_buffer.read_port()

        # Received bytes wait in a FIFO while the bridge answers or executes.
        m.submodules.request_bytes = received = StreamFifo(8, REQUEST_FIFO_BYTES)
        wiring.connect(m, wiring.flipped(self.requests), received.w)
        # The byte being parsed: the received one, or one of a rejected header's three, scanned again.
        replay, replay_left = Signal(24), Signal(range(4))
        byte, byte_valid, take = Signal(8), Signal(), Signal()
        m.d.comb += [byte.eq(Mux(replay_left != 0, replay[:8], received.r.payload)),
                     byte_valid.eq((replay_left != 0) | received.r.valid),
                     received.r.ready.eq(take & (replay_left == 0))]
        with m.If(take & (replay_left != 0)):
            m.d.sync += [replay.eq(replay >> 8), replay_left.eq(replay_left - 1)]
        taken = take & byte_valid

        crc, header, count = Signal(8), Signal(24), Signal(range(protocol.MAX_PAYLOAD_BYTES + 1))
        command, length = header[:8], header[8:]
        small = Signal(6 * 8)  # READ and WRITE payloads: offset (u16) [, value (u32)]
        word = Signal(DATA_BITS)
        status, answer_length = Signal(8), Signal(16)
        rdata = Signal(DATA_BITS)
        index = Signal(range(protocol.MAX_SEND_WORDS + 1))
        fits = Signal()
        m.d.comb += fits.eq(Mux(command == protocol.READ, length == 2,
                            Mux(command == protocol.WRITE, length == 6,
                            Mux(command == protocol.SEND, (length != 0) & (length[:2] == 0),
                                (command == protocol.RECV) & (length == 0)))))
        offset = small[:16]
        bus = self.m_axil
        aw_done, w_done = Signal(), Signal()

        def answer(code, payload_bytes=0):
            m.d.sync += [status.eq(code), answer_length.eq(payload_bytes)]
            m.next = "ANSWER"

        with m.FSM():
            with m.State("SYNC"):
                m.d.comb += take.eq(1)
                with m.If(taken & (byte == protocol.SYNC)):
                    m.d.sync += [crc.eq(0), count.eq(0)]
                    m.next = "HEADER"
            with m.State("HEADER"):
                m.d.comb += take.eq(1)
                with m.If(taken):
                    m.d.sync += [crc.eq(crc8_next(crc, byte)), header.eq(Cat(header[8:], byte)), count.eq(count + 1)]
                    with m.If(count == 2):
                        m.next = "LENGTH"
            with m.State("LENGTH"):
                m.d.sync += count.eq(0)
                with m.If(length > protocol.MAX_PAYLOAD_BYTES):  # no such frame: drop only its 0xA5
                    m.d.sync += [replay.eq(header), replay_left.eq(3)]
                    answer(protocol.BAD_FRAME)
                with m.Elif(length == 0):
                    m.next = "CHECK"
                with m.Else():
                    m.next = "PAYLOAD"
            with m.State("PAYLOAD"):
                m.d.comb += take.eq(1)
                m.d.comb += [buffer_write.addr.eq(count[2:]), buffer_write.data.eq(Cat(word[:24], byte)),
                             buffer_write.en.eq(taken & (count[:2] == 3))]
                with m.If(taken):
                    m.d.sync += [crc.eq(crc8_next(crc, byte)), count.eq(count + 1),
                                 word.word_select(count[:2], 8).eq(byte)]
                    with m.If(count < 6):
                        m.d.sync += small.word_select(count[:3], 8).eq(byte)
                    with m.If(count == length - 1):
                        m.next = "CHECK"
            with m.State("CHECK"):
                m.d.comb += take.eq(1)
                m.d.sync += [index.eq(0), aw_done.eq(0), w_done.eq(0)]
                with m.If(taken):
                    with m.If((byte != crc) | ~fits):
                        answer(protocol.BAD_FRAME)
                    with m.Elif(command == protocol.READ):
                        m.next = "READ"
                    with m.Elif(command == protocol.WRITE):
                        m.next = "WRITE"
                    with m.Elif(command == protocol.SEND):
                        m.next = "SEND_LOAD"
                    with m.Elif(self._lengths.valid):
                        answer(protocol.OK, Cat(Const(0, 2), self._lengths.payload))
                    with m.Else():
                        answer(protocol.EMPTY)
            with m.State("READ"):
                m.d.comb += [bus.araddr.eq(offset), bus.arvalid.eq(1)]
                with m.If(bus.arready):
                    m.next = "READ_RESPONSE"
            with m.State("READ_RESPONSE"):
                m.d.comb += bus.rready.eq(1)
                with m.If(bus.rvalid):
                    m.d.sync += rdata.eq(bus.rdata)
                    with m.If(bus.rresp == OKAY):
                        answer(protocol.OK, WORD_BYTES)
                    with m.Else():
                        answer(protocol.SLVERR)
            with m.State("WRITE"):
                m.d.comb += [bus.awaddr.eq(offset), bus.awvalid.eq(~aw_done), bus.wdata.eq(small[16:]),
                             bus.wstrb.eq(0b1111), bus.wvalid.eq(~w_done)]
                with m.If(bus.awready):
                    m.d.sync += aw_done.eq(1)
                with m.If(bus.wready):
                    m.d.sync += w_done.eq(1)
                with m.If((aw_done | bus.awready) & (w_done | bus.wready)):
                    m.next = "WRITE_RESPONSE"
            with m.State("WRITE_RESPONSE"):
                m.d.comb += bus.bready.eq(1)
                with m.If(bus.bvalid):
                    answer(Mux(bus.bresp == OKAY, protocol.OK, protocol.SLVERR))
            with m.State("SEND_LOAD"):  # the buffer's read port answers a cycle after its address
                m.d.comb += buffer_read.addr.eq(index)
                m.next = "SEND"
            with m.State("SEND"):
                last = index == length[2:] - 1
                pushed = self.m_axis.tready
                m.d.comb += [self.m_axis.tdata.eq(buffer_read.data), self.m_axis.tvalid.eq(1),
                             self.m_axis.tlast.eq(last), buffer_read.addr.eq(Mux(pushed, index + 1, index))]
                with m.If(pushed):
                    m.d.sync += index.eq(index + 1)
                    with m.If(last):
                        answer(protocol.OK)
            with m.State("ANSWER"):
                self._answer(m, status, answer_length, rdata, command == protocol.RECV)
        return m

    def _answer(self, m, status, payload_bytes, rdata, from_packet):
        """Send 0xA5, status, length, payload (``rdata`` or the next packet's words) and the CRC-8."""
        position, crc = Signal(range(protocol.MAX_PAYLOAD_BYTES + 6)), Signal(8)
        payload_position = (position - 4)[:16]
        lane = payload_position[:2]
        payload_byte = Mux(from_packet, self._words.payload.word_select(lane, 8), rdata.word_select(lane, 8))
        out = self.answers
        with m.If(position == 0):
            m.d.comb += out.payload.eq(protocol.SYNC)
        with m.Elif(position == 1):
            m.d.comb += out.payload.eq(status)
        with m.Elif(position == 2):
            m.d.comb += out.payload.eq(payload_bytes[:8])
        with m.Elif(position == 3):
            m.d.comb += out.payload.eq(payload_bytes[8:])
        with m.Elif(position < payload_bytes + 4):
            m.d.comb += out.payload.eq(payload_byte)
        with m.Else():
            m.d.comb += out.payload.eq(crc)
        in_payload = (position >= 4) & (position < payload_bytes + 4)
        m.d.comb += out.valid.eq(~(in_payload & from_packet) | self._words.valid)
        with m.If(out.valid & out.ready):
            m.d.sync += position.eq(position + 1)
            with m.If(position != 0):
                m.d.sync += crc.eq(crc8_next(crc, out.payload))
            with m.If(in_payload & from_packet & (lane == WORD_BYTES - 1)):
                m.d.comb += self._words.ready.eq(1)
            with m.If(position == payload_bytes + 4):
                m.d.sync += [position.eq(0), crc.eq(0)]
                with m.If(from_packet & (status == protocol.OK)):
                    m.d.comb += self._lengths.ready.eq(1)
                m.next = "SYNC"


def output_depth_for(cfg: AcceleratorConfig, packets: int = 2) -> int:
    """The smallest power-of-two output FIFO holding ``packets`` whole output packets."""
    words = packets * output_length(cfg)
    return 1 << max(1, (words - 1).bit_length())


class SerialAccelerator(wiring.Component):
    """The accelerator top behind a UART: ``rx``/``tx`` pins at ``baud`` from ``cfg.clock_hz`` (or an explicit
    ``divider`` of clocks per bit), the ``serial`` transport's frames on them. ``single_port_layers`` and
    ``stream_slices`` as for ``Accelerator``.

    Smaller buffers for a small part (the iCE40 UP5K) cost waiting, never results: ``event_fifo_words``
    (at least 2, still a registered hand-over) words between the bridge and the top, and room for
    ``output_packets`` whole output packets (at least 1) before the top waits for a RECV."""

    def __init__(self, cfg: AcceleratorConfig, baud: int = DEFAULT_BAUD, divider: int | None = None,
                 single_port_layers: tuple[int, ...] = (), event_fifo_words: int = EVENT_FIFO_WORDS,
                 output_packets: int = 2, stream_slices: bool = True):
        if event_fifo_words < 2:
            raise ValueError(f"event_fifo_words must be at least 2 (a registered hand-over), got {event_fifo_words}")
        if output_packets < 1:
            raise ValueError(f"output_packets must be at least 1, got {output_packets}")
        self.cfg = cfg
        self.single_port_layers, self.stream_slices = single_port_layers, stream_slices
        self.event_fifo_words, self.output_packets = event_fifo_words, output_packets
        self.divider = divider if divider is not None else clocks_per_bit(cfg.clock_hz, baud)
        _check_divider(self.divider)
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.uart_rx = rx = UartRx(self.divider)
        m.submodules.uart_tx = tx = UartTx(self.divider)
        m.submodules.bridge = bridge = SerialBridge(output_depth_for(self.cfg, self.output_packets),
                                                    max_packets=2 * self.output_packets)
        m.submodules.top = top = Accelerator(self.cfg, self.single_port_layers, self.stream_slices)
        m.d.comb += [rx.rx.eq(self.rx), self.tx.eq(tx.tx)]
        wiring.connect(m, rx.bytes, bridge.requests)
        wiring.connect(m, bridge.answers, tx.bytes)
        wiring.connect(m, bridge.m_axil, top.s_axil)
        # Registered hand-over of the event words: the bridge's send buffer (block RAM) would otherwise drive the
        # top's decoder, its back-pressure and the weight memories' write enables in one cycle.
        m.submodules.event_words = events = AxiStreamFifo(self.event_fifo_words)
        wiring.connect(m, bridge.m_axis, events.s_axis)
        wiring.connect(m, events.m_axis, top.s_axis)
        # Packets leave through a register slice: the bridge's packet buffer's fill level and the engine's output
        # handshake are then not one path.
        m.submodules.packet_words = packet_words = SkidBuffer(DATA_BITS + 1, self.stream_slices)
        m.d.comb += [packet_words.i.payload.eq(Cat(top.m_axis.tdata, top.m_axis.tlast)),
                     packet_words.i.valid.eq(top.m_axis.tvalid), top.m_axis.tready.eq(packet_words.i.ready),
                     Cat(bridge.s_axis.tdata, bridge.s_axis.tlast).eq(packet_words.o.payload),
                     bridge.s_axis.tvalid.eq(packet_words.o.valid), packet_words.o.ready.eq(bridge.s_axis.tready)]
        return m
