"""The host's ``serial`` transport over a bit-level 8N1 line to the RTL bridge and top, against the ``model``.

``UartLine`` is the bench's UART, written from the 8N1 definition: a start bit
(0), eight data bits LSB first, a stop bit (1), ``divider`` clock periods each.
``SimulatedPort`` puts it behind pyserial's ``write``/``read``/
``reset_input_buffer``, so the real ``SerialTransport`` and ``Accelerator`` run
unchanged in a ``cocotb.task.bridge`` thread; each ``read`` lets the simulation
run until the bytes are there or the line has been quiet for a while.

Two checks: a short training run seen through the serial transport equals the
same run on ``ModelTransport`` (scores, spike counts, weights, counters but the
cycle counters); and a byte sequence of malformed and good frames gets, byte for
byte, the answers ``eligo.driver.serial.SerialBridge`` gives in front of the model.
"""

from __future__ import annotations

from collections import deque

import cocotb
from cocotb.task import bridge, resume
from cocotb.triggers import Event, FallingEdge, Timer

from eligo import serial_protocol as protocol
from eligo.config import AcceleratorConfig
from eligo.driver.model import ModelTransport
from eligo.driver.serial import SerialBridge, SerialTransport
from eligo.regmap import build_register_map
from eligo_sim.benches.accelerator_top import CYCLE_COUNTERS, training_session
from eligo_sim.clocking import start_clock_and_reset
from eligo_sim.runner import bench_params

CLOCK_NS = 10
QUIET_BYTES = 40
"""A read gives up after the line has carried no answer byte for this many byte times."""
ANSWER_TIMEOUT_S = 600.0
"""Wall-clock limit per answer: the simulation, not the line, sets the pace here."""


class UartLine:
    """Drives ``dut.rx`` with queued bytes and collects the bytes ``dut.tx`` sends, 8N1 at ``divider`` clocks."""

    def __init__(self, dut, divider: int):
        self.dut, self.bit_ns = dut, divider * CLOCK_NS
        self.outgoing, self.incoming = deque(), bytearray()
        self.queued = Event()
        dut.rx.value = 1
        cocotb.start_soon(self._drive())
        cocotb.start_soon(self._listen())

    async def _drive(self):
        while True:
            while not self.outgoing:
                self.queued.clear()
                await self.queued.wait()
            byte = self.outgoing.popleft()
            for bit in (0, *((byte >> i) & 1 for i in range(8)), 1):
                self.dut.rx.value = bit
                await Timer(self.bit_ns, unit="ns")

    async def _listen(self):
        while True:
            await FallingEdge(self.dut.tx)
            await Timer(self.bit_ns // 2, unit="ns")
            assert int(self.dut.tx.value) == 0, "start bit shorter than half a bit"
            byte = 0
            for i in range(8):
                await Timer(self.bit_ns, unit="ns")
                byte |= int(self.dut.tx.value) << i
            await Timer(self.bit_ns, unit="ns")
            assert int(self.dut.tx.value) == 1, f"byte 0x{byte:02x} has no stop bit"
            self.incoming.append(byte)

    async def send(self, data: bytes) -> None:
        self.outgoing.extend(data)
        self.queued.set()

    async def receive(self, n: int) -> bytes:
        """Up to ``n`` bytes: returns when there are ``n`` or after the line carried nothing new for a while."""
        quiet, seen = 0, len(self.incoming)
        while len(self.incoming) < n and quiet < QUIET_BYTES + 10 * len(self.outgoing):
            await Timer(10 * self.bit_ns, unit="ns")
            quiet = 0 if len(self.incoming) != seen else quiet + 1
            seen = len(self.incoming)
        data = bytes(self.incoming[:n])
        del self.incoming[:n]
        return data


class SimulatedPort:
    """pyserial's ``Serial`` as ``SerialTransport`` uses it, over a ``UartLine``, for a bridge thread."""

    def __init__(self, line: UartLine):
        self.line = line

    def write(self, data: bytes) -> int:
        resume(self.line.send)(bytes(data))
        return len(data)

    def read(self, n: int) -> bytes:
        return resume(self.line.receive)(n)

    def reset_input_buffer(self) -> None:
        self.line.incoming.clear()


async def start(dut) -> tuple[AcceleratorConfig, UartLine]:
    cfg = AcceleratorConfig.from_dict(bench_params()["config"])
    if cocotb.SIM_NAME.lower().startswith("icarus"):  # see accelerator_top.start_top: step each FSM once
        for fsm in (dut.top.engine, dut.bridge, dut.uart_rx):
            fsm.fsm_state.value = 1
    line = UartLine(dut, bench_params()["divider"])
    await start_clock_and_reset(dut, idle_inputs=())
    return cfg, line


@cocotb.test()
async def training_run_over_serial_matches_model(dut):
    cfg, line = await start(dut)
    params = bench_params()
    transport = SerialTransport(SimulatedPort(line), build_register_map(cfg), answer_timeout=ANSWER_TIMEOUT_S)
    expected = training_session(ModelTransport(cfg), cfg, params)
    got = await bridge(lambda: training_session(transport, cfg, params))()
    dut._log.info("cycle counters: serial %s, model transport %s", got["cycles"], expected["cycles"])
    del expected["cycles"], got["cycles"]
    assert got["counters"]["updates_applied"] > 0, "the run must learn"
    for key in expected:
        assert got[key] == expected[key], f"{key}: serial {got[key]} != model {expected[key]}"
    assert set(CYCLE_COUNTERS).isdisjoint(got["counters"])


def request_bytes(cfg: AcceleratorConfig) -> list[tuple[str, bytes]]:
    """(what, bytes): malformed requests, each followed by a good one, as a host or a noisy line might send."""
    regmap = build_register_map(cfg)
    read_id = protocol.frame(protocol.READ, regmap["ID"].offset.to_bytes(2, "little"))
    read_error = protocol.frame(protocol.READ, regmap["ERROR"].offset.to_bytes(2, "little"))
    bad_crc = read_id[:-1] + bytes([read_id[-1] ^ 0x5A])
    return [
        ("good READ of ID", read_id),
        ("bad CRC", bad_crc + read_id),
        ("unknown command", protocol.frame(0x09, b"\x01\x02") + read_id),
        ("noise before a frame", b"\x00\x13\xff" + read_id),
        ("oversize length (SEND of 257 words)", bytes([protocol.SYNC, protocol.SEND, 0x04, 0x04]) + read_id),
        ("oversize length with a stray 0xA5 in it", bytes([protocol.SYNC, protocol.SYNC, 0x00, 0xF0]) + read_id),
        ("READ with a 3-byte payload", protocol.frame(protocol.READ, b"\x00\x00\x00") + read_id),
        ("WRITE with a 4-byte payload", protocol.frame(protocol.WRITE, b"\x00\x00\x00\x00") + read_id),
        ("SEND of no words", protocol.frame(protocol.SEND) + read_id),
        ("SEND of 6 bytes", protocol.frame(protocol.SEND, bytes(6)) + read_id),
        ("RECV with a payload", protocol.frame(protocol.RECV, b"\x00") + read_id),
        ("RECV with no packet", protocol.frame(protocol.RECV)),
        ("WRITE to the read-only ID", protocol.frame(protocol.WRITE, regmap["ID"].offset.to_bytes(2, "little")
                                                     + (1).to_bytes(4, "little")) + read_error),
        ("READ of an unmapped offset", protocol.frame(protocol.READ, (0x3F0).to_bytes(2, "little")) + read_error),
        ("WRITE of SCRATCH, READ back", protocol.frame(protocol.WRITE, regmap["SCRATCH"].offset.to_bytes(2, "little")
                                                       + (0xC0FFEE42).to_bytes(4, "little"))
         + protocol.frame(protocol.READ, regmap["SCRATCH"].offset.to_bytes(2, "little"))),
    ]


@cocotb.test()
async def malformed_frames_answered_as_specified(dut):
    cfg, line = await start(dut)
    specification = SerialBridge(ModelTransport(cfg))
    for what, data in request_bytes(cfg):
        expected = specification.feed(data)
        await line.send(data)
        got = await line.receive(len(expected) + 1)  # one byte more than expected: none may come
        assert got == expected, f"{what}: bridge answered {got.hex(' ')}, specification {expected.hex(' ')}"
