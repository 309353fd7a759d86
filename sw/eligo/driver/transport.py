"""What the ``Accelerator`` needs from a link to the chip: 32-bit register access and the two event streams.

Weights need nothing more: they go through the WEIGHT_* registers
(``eligo.layout``). A transport raises only the exceptions of
``eligo.driver.errors``: ``DeviceError`` when a register access answers SLVERR
(or would: transports whose bus aborts on SLVERR refuse such an access
themselves), ``TransportTimeout`` when no output packet arrives in time,
``StreamLengthError`` when one arrives with another length.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from eligo.driver.errors import DeviceError, DriverError
from eligo.regmap import ADDRESS_BITS, RegisterMap, Register


class Transport(Protocol):
    def read_register(self, offset: int) -> int:
        """The 32-bit value at byte ``offset`` of the register window."""

    def write_register(self, offset: int, value: int) -> None:
        """Write a 32-bit value at byte ``offset``."""

    def send_words(self, words: np.ndarray) -> None:
        """Queue uint32 event words on the input stream (TLAST after the last one); may return before the
        chip has consumed them."""

    def receive_words(self, expected_len: int, timeout: float) -> np.ndarray:
        """The next output packet (up to TLAST) as uint32 words; it must have ``expected_len`` words."""

    def close(self) -> None:
        """Release what the transport holds (buffers, ports)."""


class RegisterWindow:
    """The register map indexed by byte offset, with the bus's address rules (the two low bits are ignored)."""

    def __init__(self, regmap: RegisterMap):
        self.regmap = regmap
        self.by_offset = {reg.offset: reg for reg in regmap}

    def find(self, offset: int, value: int | None = None) -> Register | None:
        """The register at ``offset`` (None if unmapped), after checking the offset and value fit the bus."""
        if not 0 <= offset < 1 << ADDRESS_BITS:
            raise DriverError(f"register offset 0x{offset:x} is outside the 0x{1 << ADDRESS_BITS:x}-byte window")
        if value is not None and not 0 <= value <= 0xFFFF_FFFF:
            raise DriverError(f"register value {value} does not fit in 32 bits")
        return self.by_offset.get(offset & ~3)

    def refuse_illegal(self, offset: int, value: int | None = None) -> None:
        """Raise, without touching the bus, for an access the register file would answer with SLVERR."""
        reg = self.find(offset, value)
        if reg is None:
            raise DeviceError(f"offset 0x{offset:03x} is not a register (the bus would answer SLVERR)",
                              ("bus_error",))
        if value is not None and reg.access == "ro":
            raise DeviceError(f"{reg.name} is read-only (the bus would answer SLVERR)", ("bus_error",))
