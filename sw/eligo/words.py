"""The 32-bit event word: the one stream format between host and chip.

    31    28 27                                   0
   +--------+--------------------------------------+
   | opcode |               payload                |
   +--------+--------------------------------------+

=======  ======  ======================================================
opcode   name    payload
=======  ======  ======================================================
0x1      EVENT   input address (0 .. n_inputs-1) spiking in this step
0x2      TICK    index of the time step it closes (mod 2**28)
0x3      LABEL   target class of the sample; learning is on for it
0x4      END     sample index (mod 2**28); closes the sample
=======  ======  ======================================================

A sample is ``LABEL? (EVENT* TICK)+ END``; without a LABEL the chip only
infers. Opcode 0 is reserved so that zeroed memory never reads as valid words.
The hardware decodes the same constants from this module.
"""

from __future__ import annotations

import enum

import numpy as np

OPCODE_SHIFT = 28
PAYLOAD_BITS = 28
PAYLOAD_MASK = (1 << PAYLOAD_BITS) - 1


class Opcode(enum.IntEnum):
    EVENT = 0x1
    TICK = 0x2
    LABEL = 0x3
    END = 0x4


class WordError(ValueError):
    """A word or word sequence that breaks the stream format; says where."""


def encode(opcode: Opcode, payload: int) -> int:
    if not 0 <= payload <= PAYLOAD_MASK:
        raise WordError(f"{Opcode(opcode).name} payload {payload} does not fit in {PAYLOAD_BITS} bits")
    return (int(opcode) << OPCODE_SHIFT) | payload


def encode_array(opcodes: np.ndarray, payloads: np.ndarray) -> np.ndarray:
    """Vectorised ``encode``; returns uint32 words."""
    opcodes = np.asarray(opcodes, dtype=np.int64)
    payloads = np.asarray(payloads, dtype=np.int64)
    bad = (payloads < 0) | (payloads > PAYLOAD_MASK)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise WordError(f"payload {int(payloads[i])} at index {i} does not fit in {PAYLOAD_BITS} bits")
    return ((opcodes << OPCODE_SHIFT) | payloads).astype(np.uint32)


def decode_array(words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split uint32 words into (opcodes, payloads); raises on any reserved opcode."""
    words = np.asarray(words, dtype=np.uint32).astype(np.int64)
    opcodes = words >> OPCODE_SHIFT
    valid = np.isin(opcodes, [int(op) for op in Opcode])
    if not valid.all():
        i = int(np.flatnonzero(~valid)[0])
        raise WordError(f"word {i} (0x{int(words[i]):08x}) has reserved opcode 0x{int(opcodes[i]):x}")
    return opcodes, words & PAYLOAD_MASK
