"""The ``serial`` transport: the chip's registers and streams over a UART, for the open-toolchain ECP5 board.

One request frame, one answer frame (``eligo.serial_protocol``). ``SerialBridge`` is the device end's
executable specification, in front of the ``model`` transport.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable

import numpy as np

from eligo.config import AcceleratorConfig
from eligo.driver.errors import DeviceError, DriverError, StreamLengthError, TransportTimeout
from eligo.driver.transport import RegisterWindow
from eligo.regmap import RegisterMap, build_register_map
from eligo.serial_protocol import (BAD_FRAME, EMPTY, MAX_PAYLOAD_BYTES, MAX_SEND_WORDS, OK, READ, RECV, SEND, SLVERR,
                                   SYNC, WRITE, crc8, frame)

POLL_SECONDS = 1e-3


class SerialTransport:
    """A ``Transport`` over a pyserial-style ``port``: ``write(bytes)``, ``read(n)`` returning fewer bytes when its
    own timeout passes, ``reset_input_buffer()``."""

    def __init__(self, port, regmap: RegisterMap, answer_timeout: float = 1.0):
        self.port = port
        self.window = RegisterWindow(regmap)
        self.answer_timeout = answer_timeout

    def _request(self, command: int, payload: bytes = b"") -> tuple[int, bytes]:
        self.port.write(frame(command, payload))
        try:
            return self._read_answer(time.monotonic() + self.answer_timeout)
        except DriverError:
            self.port.reset_input_buffer()  # whatever follows a damaged or missing answer is out of step
            raise

    def _read_answer(self, deadline: float) -> tuple[int, bytes]:
        while self._read(1, deadline) != bytes([SYNC]):
            pass
        head = self._read(3, deadline)
        status, length = head[0], int.from_bytes(head[1:], "little")
        body = self._read(length + 1, deadline)
        if crc8(head + body[:-1]) != body[-1]:
            raise DriverError("serial answer failed its CRC-8: the line is corrupting bytes")
        if status == BAD_FRAME:
            raise DriverError("the bridge rejected a request frame (CRC, command or length): the line is "
                              "corrupting bytes")
        return status, body[:-1]

    def _read(self, n: int, deadline: float) -> bytes:
        data = b""
        while len(data) < n:
            data += self.port.read(n - len(data))
            if len(data) < n and time.monotonic() > deadline:
                raise TransportTimeout(f"the serial bridge did not answer within {self.answer_timeout} s")
        return data

    def _check(self, status: int, what: str) -> None:
        if status == SLVERR:
            raise DeviceError(f"SLVERR: {what}", ("bus_error",))
        if status != OK:
            raise DriverError(f"unexpected bridge status 0x{status:02x} for {what}")

    def read_register(self, offset: int) -> int:
        self.window.find(offset)
        status, payload = self._request(READ, struct.pack("<H", offset))
        self._check(status, f"read of offset 0x{offset:03x}")
        return struct.unpack("<I", payload)[0]

    def write_register(self, offset: int, value: int) -> None:
        self.window.find(offset, value)
        status, _ = self._request(WRITE, struct.pack("<HI", offset, value))
        self._check(status, f"write to offset 0x{offset:03x}")

    def send_words(self, words: np.ndarray) -> None:
        words = np.asarray(words, dtype="<u4")
        for start in range(0, len(words), MAX_SEND_WORDS):
            status, _ = self._request(SEND, words[start:start + MAX_SEND_WORDS].tobytes())
            self._check(status, "sending event words")

    def receive_words(self, expected_len: int, timeout: float) -> np.ndarray:
        deadline = time.monotonic() + timeout
        while True:
            status, payload = self._request(RECV)
            if status != EMPTY:
                break
            if time.monotonic() > deadline:
                raise TransportTimeout(f"no output packet within {timeout} s")
            time.sleep(POLL_SECONDS)
        self._check(status, "receiving a packet")
        words = np.frombuffer(payload, dtype="<u4").astype(np.uint32)
        if len(payload) % 4 or len(words) != expected_len:
            raise StreamLengthError(f"output packet of {len(payload) / 4:g} words, expected {expected_len}")
        return words

    def close(self) -> None:
        close = getattr(self.port, "close", None)
        if close is not None:
            close()


class SerialBridge:
    """The device end: parses request frames from a byte stream and answers them from the ``model`` transport,
    whose output packets stand for the TLAST-delimited output stream."""

    def __init__(self, device):
        self.device = device
        self.pending = b""

    def feed(self, data: bytes) -> bytes:
        """Take received bytes; return the answer bytes of every frame they complete."""
        self.pending += data
        answers = b""
        while True:
            start = self.pending.find(bytes([SYNC]))
            if start < 0:
                self.pending = b""
                return answers
            self.pending = self.pending[start:]
            if len(self.pending) < 4:
                return answers
            command, length = self.pending[1], int.from_bytes(self.pending[2:4], "little")
            if length > MAX_PAYLOAD_BYTES:  # no frame is that long: a damaged header, or a stray 0xA5
                self.pending = self.pending[1:]
                answers += frame(BAD_FRAME)
                continue
            if len(self.pending) < 5 + length:
                return answers
            body, check = self.pending[1:4 + length], self.pending[4 + length]
            self.pending = self.pending[5 + length:]
            answers += self._answer(command, body[3:]) if crc8(body) == check else frame(BAD_FRAME)

    def _answer(self, command: int, payload: bytes) -> bytes:
        n = len(payload)
        handler = {READ: self._read if n == 2 else None,
                   WRITE: self._write if n == 6 else None,
                   SEND: self._send if 0 < n <= MAX_PAYLOAD_BYTES and n % 4 == 0 else None,
                   RECV: self._receive if n == 0 else None}.get(command)
        if handler is None:
            return frame(BAD_FRAME)
        try:
            return handler(payload)
        except DeviceError:
            return frame(SLVERR)

    def _read(self, payload: bytes) -> bytes:
        return frame(OK, struct.pack("<I", self.device.read_register(struct.unpack("<H", payload)[0])))

    def _write(self, payload: bytes) -> bytes:
        self.device.write_register(*struct.unpack("<HI", payload))
        return frame(OK)

    def _send(self, payload: bytes) -> bytes:
        self.device.send_words(np.frombuffer(payload, dtype="<u4").astype(np.uint32))
        return frame(OK)

    def _receive(self, payload: bytes) -> bytes:
        if not self.device.outputs:
            return frame(EMPTY)
        return frame(OK, self.device.outputs.popleft().astype("<u4").tobytes())


class LoopbackPort:
    """A pyserial stand-in wired straight to a ``SerialBridge``: the framing without a board or a UART.
    ``damage(answer) -> answer`` can corrupt what comes back; ``sent``/``answered`` count bytes each way."""

    def __init__(self, bridge: SerialBridge, damage: Callable[[bytes], bytes] = lambda answer: answer):
        self.bridge, self.damage = bridge, damage
        self.incoming, self.sent, self.answered = b"", 0, 0

    def write(self, data: bytes) -> int:
        self.sent += len(data)
        answer = self.damage(self.bridge.feed(data))
        self.answered += len(answer)
        self.incoming += answer
        return len(data)

    def read(self, n: int) -> bytes:
        data, self.incoming = self.incoming[:n], self.incoming[n:]
        return data

    def reset_input_buffer(self) -> None:
        self.incoming = b""


def open_serial(port_name: str, cfg: AcceleratorConfig, baudrate: int = 115_200) -> SerialTransport:
    """Open ``port_name`` with pyserial (8N1)."""
    try:
        import serial
    except ImportError:
        raise DriverError("the serial backend needs pyserial: pip install pyserial") from None
    try:
        port = serial.Serial(port_name, baudrate=baudrate, timeout=0.05)
    except (serial.SerialException, ValueError) as exc:
        raise DriverError(f"cannot open serial port {port_name}: {exc}") from exc
    return SerialTransport(port, build_register_map(cfg))
