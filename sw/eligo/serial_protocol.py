"""The frame format of the ``serial`` transport, shared by the driver and the chip's UART bridge.

Every request is one frame and gets one answer frame::

    request:  0xA5 | command | length (u16) | payload | CRC-8
    answer:   0xA5 | status  | length (u16) | payload | CRC-8

Numbers are little-endian; ``length`` counts payload bytes; the CRC-8
(polynomial 0x07, initial value 0) covers everything after the 0xA5.

=========  =====================================  =============================
command    request payload                        answer payload (status OK)
=========  =====================================  =============================
0x01 READ  offset (u16)                           value (u32)
0x02 WRITE offset (u16), value (u32)              none
0x03 SEND  1..256 event words (u32 each)          none
0x04 RECV  none                                   the next output packet, whole
=========  =====================================  =============================

Status: 0x00 OK; 0x01 SLVERR (the register file refused the access: ERROR.bus_error
is set); 0x02 EMPTY (RECV: no whole output packet yet; ask again); 0x03 BAD_FRAME
(a CRC mismatch, an unknown command or a length that does not fit it; nothing
was done). The bridge drops bytes until 0xA5 and answers BAD_FRAME to a header
longer than any frame (1,024 payload bytes), dropping only its 0xA5, so a host
resynchronises by draining the line and sending a valid frame.
"""

from __future__ import annotations

import struct

SYNC = 0xA5
READ, WRITE, SEND, RECV = 0x01, 0x02, 0x03, 0x04
OK, SLVERR, EMPTY, BAD_FRAME = 0x00, 0x01, 0x02, 0x03
MAX_SEND_WORDS = 256
"""Words per SEND frame: what the bridge's input FIFO must hold."""
MAX_PAYLOAD_BYTES = 4 * MAX_SEND_WORDS
HEADER = struct.Struct("<BBH")


def _crc8_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07 if crc & 0x80 else crc << 1) & 0xFF
        table.append(crc)
    return table


CRC8_TABLE = _crc8_table()


def crc8(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc = CRC8_TABLE[crc ^ byte]
    return crc


def frame(code: int, payload: bytes = b"") -> bytes:
    """One frame: request (``code`` a command) or answer (``code`` a status)."""
    body = HEADER.pack(SYNC, code, len(payload))[1:] + payload
    return bytes([SYNC]) + body + bytes([crc8(body)])
