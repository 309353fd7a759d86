"""The ``pynq`` transport: registers through the accelerator IP's MMIO, streams through an AXI DMA.

For PYNQ 3.1.x (PYNQ-Z1/Z2) and 4.0 (KV260/ZCU104). ``pynq`` is imported only
by ``open_pynq`` and ``driver_class`` (it pins its own numpy), so
``PynqTransport`` itself runs on any objects with the same faces: a register
object with ``read(offset)``/``write(offset, value)``, a DMA with
``sendchannel``/``recvchannel`` (``transfer(buffer, start, nbytes)``, ``idle``,
``wait()``, ``transferred``) and an ``allocate(shape, dtype)``.

The AXI DMA's own ``wait()`` spins forever when TLAST never comes, so the
transport polls ``idle`` against a deadline first and raises
``TransportTimeout``; after one, reload the bitstream (the DMA channel stays
busy). Each receive asks for one word more than the packet should have: a
packet that fills it, or stops short, raises ``StreamLengthError``. Offsets the
register file would answer with SLVERR are refused before the bus is touched,
since a bus error on a Zynq general-purpose port aborts the processor.
"""

from __future__ import annotations

import functools
import time

import numpy as np

from eligo.config import AcceleratorConfig
from eligo.driver.errors import DriverError, StreamLengthError, TransportTimeout
from eligo.driver.transport import RegisterWindow
from eligo.layout import output_length
from eligo.regmap import RegisterMap, build_register_map

VLNV = "eligo.org:eligo:accelerator:1.0"
"""The vendor:library:name:version the accelerator IP is packaged with in the block design."""
DMA_VLNV = "xilinx.com:ip:axi_dma:7.1"
DEFAULT_MAX_TRANSFER_BYTES = (1 << 14) - 1
"""Vivado's default AXI DMA buffer length register width is 14 bits."""
WORD_BYTES = 4
POLL_SECONDS = 1e-4


class PynqTransport:
    """A ``Transport`` over a bound accelerator IP and an AXI DMA; buffers are allocated once, here."""

    def __init__(self, registers, dma, allocate, regmap: RegisterMap, output_words: int,
                 max_transfer_bytes: int = DEFAULT_MAX_TRANSFER_BYTES):
        self.registers = registers
        self.send_channel = dma.sendchannel
        self.recv_channel = dma.recvchannel
        self.window = RegisterWindow(regmap)
        self.input_capacity = max_transfer_bytes // WORD_BYTES
        if output_words + 1 > self.input_capacity:
            raise DriverError(f"an output packet of {output_words} words does not fit a "
                              f"{max_transfer_bytes}-byte DMA transfer")
        self.input_buffer = allocate(shape=(self.input_capacity,), dtype=np.uint32)
        self.output_buffer = allocate(shape=(output_words + 1,), dtype=np.uint32)
        self.sending = False

    def read_register(self, offset: int) -> int:
        self.window.refuse_illegal(offset)
        return int(self.registers.read(offset))

    def write_register(self, offset: int, value: int) -> None:
        self.window.refuse_illegal(offset, value)
        self.registers.write(offset, value)

    def send_words(self, words: np.ndarray, timeout: float = 5.0) -> None:
        """Start sending; a stream longer than one transfer goes in pieces, each waiting for the one before."""
        words = np.asarray(words, dtype=np.uint32)
        for start in range(0, len(words), self.input_capacity):
            piece = words[start:start + self.input_capacity]
            self._finish_send(timeout)
            self.input_buffer[:len(piece)] = piece
            self.input_buffer.flush()
            self.send_channel.transfer(self.input_buffer, 0, len(piece) * WORD_BYTES)
            self.sending = True

    def receive_words(self, expected_len: int, timeout: float) -> np.ndarray:
        if expected_len + 1 > len(self.output_buffer):
            raise DriverError(f"cannot receive {expected_len} words into a {len(self.output_buffer) - 1}-word buffer")
        self.recv_channel.transfer(self.output_buffer, 0, (expected_len + 1) * WORD_BYTES)
        self._wait(self.recv_channel, timeout, f"receiving a {expected_len}-word packet")
        received = self.recv_channel.transferred
        if received % WORD_BYTES or received // WORD_BYTES != expected_len:
            longer = received >= (expected_len + 1) * WORD_BYTES
            raise StreamLengthError(
                f"output packet of {'more than ' if longer else ''}{received / WORD_BYTES:g} words, expected "
                f"{expected_len}" + ("; the rest of it is still in the stream: reload the bitstream" if longer else ""))
        self.output_buffer.invalidate()
        return np.array(self.output_buffer[:expected_len], dtype=np.uint32)

    def _finish_send(self, timeout: float) -> None:
        if self.sending:
            self._wait(self.send_channel, timeout, "sending event words")
            self.sending = False

    @staticmethod
    def _wait(channel, timeout: float, doing: str) -> None:
        deadline = time.monotonic() + timeout
        while not channel.idle:
            if time.monotonic() > deadline:
                raise TransportTimeout(f"AXI DMA still busy {doing} after {timeout} s (no TLAST, or a stalled chip)")
            time.sleep(POLL_SECONDS)
        try:
            channel.wait()  # returns at once now; raises on the DMA's error bits
        except RuntimeError as exc:
            raise DriverError(f"AXI DMA {doing}: {exc}") from exc

    def close(self) -> None:
        try:
            self._finish_send(timeout=1.0)
        finally:
            for buffer in (self.input_buffer, self.output_buffer):
                buffer.freebuffer()


@functools.cache
def driver_class():
    """The ``pynq.DefaultIP`` subclass bound to ``VLNV`` (created on first use, which registers it)."""
    from pynq import DefaultIP

    class EligoAccelerator(DefaultIP):
        """The accelerator's AXI4-Lite register file; ``read``/``write`` are DefaultIP's 32-bit MMIO accesses."""

        bindto = [VLNV]

    return EligoAccelerator


def _ip_by_type(overlay, vlnv: str):
    names = [name for name, entry in overlay.ip_dict.items() if entry.get("type") == vlnv]
    if len(names) != 1:
        raise DriverError(f"the overlay must hold exactly one {vlnv} IP, found {names or 'none'}")
    return functools.reduce(getattr, names[0].split("/"), overlay)


def open_pynq(bitstream: str, cfg: AcceleratorConfig, *,
              max_transfer_bytes: int = DEFAULT_MAX_TRANSFER_BYTES) -> PynqTransport:
    """Download ``bitstream`` (its .hwh beside it) and bind the accelerator and its DMA by VLNV, not by name."""
    try:
        import pynq
    except ImportError:
        raise DriverError("the pynq backend needs the pynq package (3.1.x for PYNQ-Z1/Z2, 4.0 for KV260/ZCU104): "
                          "install it on the board, with eligo installed --no-deps (docs/driver.md)") from None
    driver_class()
    try:
        overlay = pynq.Overlay(bitstream)
    except (OSError, RuntimeError, ValueError) as exc:
        raise DriverError(f"cannot load overlay {bitstream}: {exc}") from exc
    return PynqTransport(_ip_by_type(overlay, VLNV), _ip_by_type(overlay, DMA_VLNV), pynq.allocate,
                         build_register_map(cfg), output_length(cfg), max_transfer_bytes)
