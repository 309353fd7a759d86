"""The ``rtl`` transport: the generated Verilog under a simulator, cocotbext-axi's bus models as the bus.

It lives inside a cocotb test. The driver is blocking code, so the test runs it
in a ``cocotb.task.bridge`` thread; each transport call hands control back to
the simulation (``cocotb.task.resume``) until its bus transaction is done:
registers through an ``AxiLiteMaster`` (a non-OKAY response raises
``DeviceError``, as the bus's SLVERR), event words out through an
``AxiStreamSource`` as one frame (TLAST on the last word), packets in through
an ``AxiStreamSink``, whose frames end at TLAST; both with 8-bit bytes (their
default), words little-endian. Timeouts count simulated
time: ``timeout_ns`` per packet, whatever wall-clock timeout the driver asks for.
"""

from __future__ import annotations

import numpy as np
from cocotb.task import resume
from cocotbext.axi import AxiResp, AxiStreamFrame

from eligo.driver.errors import DeviceError, StreamLengthError, TransportTimeout
from eligo.driver.transport import RegisterWindow
from eligo.regmap import RegisterMap


class RtlTransport:
    """A ``Transport`` over cocotbext-axi bus models attached to a simulated design."""

    def __init__(self, master, regmap: RegisterMap, source, sink, timeout_ns: int = 100_000):
        self.master, self.window, self.source, self.sink = master, RegisterWindow(regmap), source, sink
        self.timeout_ns = timeout_ns

    def read_register(self, offset: int) -> int:
        self.window.find(offset)
        response = resume(self.master.read)(offset, 4)
        if response.resp != AxiResp.OKAY:
            raise DeviceError(f"{response.resp.name}: read of offset 0x{offset:03x}", ("bus_error",))
        return int.from_bytes(response.data, "little")

    def write_register(self, offset: int, value: int) -> None:
        self.window.find(offset, value)
        response = resume(self.master.write)(offset, value.to_bytes(4, "little"))
        if response.resp != AxiResp.OKAY:
            raise DeviceError(f"{response.resp.name}: write to offset 0x{offset:03x}", ("bus_error",))

    def send_words(self, words: np.ndarray) -> None:
        """Queue the words as one frame; the source drives them while the simulation runs on."""
        resume(self.source.send)(AxiStreamFrame(np.asarray(words, dtype="<u4").tobytes()))

    def receive_words(self, expected_len: int, timeout: float) -> np.ndarray:
        if self.sink.empty():
            resume(self.sink.wait)(self.timeout_ns, "ns")
        if self.sink.empty():
            raise TransportTimeout(f"no output packet (TLAST) within {self.timeout_ns} ns of simulated time")
        data = bytes(self.sink.recv_nowait().tdata)
        if len(data) != 4 * expected_len:
            raise StreamLengthError(f"output packet of {len(data) / 4:g} words, expected {expected_len}")
        return np.frombuffer(data, dtype="<u4").astype(np.uint32)

    def close(self) -> None:
        pass
