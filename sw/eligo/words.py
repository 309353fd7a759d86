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


def check_stream(words: np.ndarray, n_inputs: int, n_classes: int | None = None) -> None:
    """Raise ``WordError`` at the first word that breaks the sample grammar.

    A stream is whole samples ``LABEL? (EVENT* TICK)+ END``: EVENT addresses
    below ``n_inputs`` and at most once per step, LABELs below ``n_classes`` (when given), TICKs numbered
    0, 1, 2... within each sample, END payloads counting up by one (mod 2**28).
    """
    opcodes, payloads = decode_array(words)
    if not len(opcodes):
        return
    previous = np.r_[int(Opcode.END), opcodes[:-1]]

    def fail(mask: np.ndarray, reason: str) -> None:
        if mask.any():
            i = int(np.flatnonzero(mask)[0])
            raise WordError(f"word {i} (0x{int(words[i]):08x}): {reason}")

    fail((opcodes == Opcode.EVENT) & (payloads >= n_inputs), f"EVENT address outside 0..{n_inputs - 1}")
    if n_classes is not None:
        fail((opcodes == Opcode.LABEL) & (payloads >= n_classes), f"LABEL outside 0..{n_classes - 1}")
    fail((opcodes == Opcode.LABEL) & (previous != Opcode.END), "LABEL inside a sample (only first in a sample)")
    fail((opcodes == Opcode.END) & (previous != Opcode.TICK), "END must follow a TICK (no empty sample, "
                                                              "no events after the last step)")
    sample = np.r_[0, np.cumsum(opcodes == Opcode.END)[:-1]]  # which sample each word belongs to
    ticks_before = np.cumsum(opcodes == Opcode.TICK) - (opcodes == Opcode.TICK)
    starts = np.flatnonzero(np.r_[True, sample[1:] != sample[:-1]])
    ticks_before_sample = np.zeros(int(sample[-1]) + 1, dtype=np.int64)
    ticks_before_sample[sample[starts]] = ticks_before[starts]
    step = (ticks_before - ticks_before_sample[sample]) & PAYLOAD_MASK
    fail((opcodes == Opcode.TICK) & (payloads != step), "TICK out of order (steps count 0, 1, 2... per sample)")
    events = np.flatnonzero(opcodes == Opcode.EVENT)
    keys = (sample[events] * (PAYLOAD_MASK + 1) + step[events]) * n_inputs + payloads[events]
    order = np.argsort(keys, kind="stable")
    repeats = events[order[1:][keys[order][1:] == keys[order][:-1]]]
    fail(np.isin(np.arange(len(opcodes)), repeats), "EVENT repeats an address within one time step")
    ends = np.flatnonzero(opcodes == Opcode.END)
    if len(ends) > 1:
        jumps = (payloads[ends[1:]] - payloads[ends[:-1]]) & PAYLOAD_MASK
        fail(np.isin(np.arange(len(opcodes)), ends[1:][jumps != 1]), "END index does not follow the previous END's")
    if opcodes[-1] != Opcode.END:
        raise WordError(f"word {len(opcodes) - 1}: the stream stops inside a sample (no closing END)")
