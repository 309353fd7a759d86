"""Decoder of the 32-bit event words defined in ``eligo.words``.

Good words pass through as commands; a word with a reserved opcode or an
EVENT address the chip does not have is consumed, counted, and raises the
sticky error flag. Nothing is dropped without being counted.
"""

from __future__ import annotations

import types

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.wiring import In, Out

from eligo.words import OPCODE_SHIFT, PAYLOAD_BITS, Opcode


def _opcodes(namespace) -> None:
    namespace["__module__"], namespace["__qualname__"] = __name__, "Kind"
    namespace["__doc__"] = "``eligo.words.Opcode`` as a hardware shape: the engine takes every opcode as a command."
    for opcode in Opcode:
        namespace[opcode.name] = opcode.value


Kind = types.new_class("Kind", (enum.Enum,), {"shape": 32 - OPCODE_SHIFT}, _opcodes)


Command = data.StructLayout({"payload": PAYLOAD_BITS, "kind": Kind})


def delay_line(m: Module, value, cycles: int, name: str = "late") -> list[Signal]:
    """``value`` one, two, ... ``cycles`` cycles later: a register a stage (the last is ``delayed``'s)."""
    stages = []
    for stage in range(cycles):
        held = Signal.like(value, name=name if cycles == 1 else f"{name}{stage}")
        m.d.sync += held.eq(value)
        stages.append(held)
        value = held
    return stages


def delayed(m: Module, value, cycles: int = 1, name: str = "late") -> Signal:
    """``value`` ``cycles`` cycles later."""
    return delay_line(m, value, cycles, name)[-1]


def saturating_increment(m: Module, counter, condition) -> None:
    """Count ``condition`` cycles in ``counter`` without ever wrapping."""
    with m.If(condition & (counter != (1 << len(counter)) - 1)):
        m.d.sync += counter.eq(counter + 1)


def saturating_add(m: Module, counter, amount) -> None:
    """Add ``amount`` to ``counter``, stopping at its largest value (several things counted in one cycle). Only
    when ``amount`` is non-zero, as ``saturating_increment``: Icarus skips an ``if`` on X, so a strobe still X at
    time 0 leaves the counter alone rather than making it X for good. A one-bit amount is that increment (an
    adder per counter does not fit the UP5K)."""
    if len(amount) == 1:
        saturating_increment(m, counter, amount)
        return
    total = counter + amount
    with m.If(amount != 0):
        m.d.sync += counter.eq(Mux(total[len(counter):].any(), (1 << len(counter)) - 1, total))


class WordDecoder(wiring.Component):
    """Check event words against the opcode set and ``n_inputs``; count what is rejected.

    ``rejecting`` strobes each rejection as it is counted, for counters kept elsewhere.
    """

    def __init__(self, n_inputs: int, counter_bits: int = 32):
        self.n_inputs = n_inputs
        super().__init__({
            "words": In(stream.Signature(32)),
            "commands": Out(stream.Signature(Command)),
            "bad_opcodes": Out(counter_bits),
            "bad_addresses": Out(counter_bits),
            "rejecting": Out(data.StructLayout({"opcode": 1, "address": 1})),
            "error": Out(1),
            "clear": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        word = self.words.payload
        word_as_command = Command(word)
        known_opcode = word_as_command.kind.as_value().matches(*(k.value for k in Kind))
        bad_address = (word_as_command.kind == Kind.EVENT) & (word_as_command.payload >= self.n_inputs)
        good = known_opcode & ~bad_address

        m.d.comb += [
            self.commands.payload.eq(word),
            self.commands.valid.eq(self.words.valid & good),
            # Rejected words are taken at once so a bad word never stalls the stream.
            self.words.ready.eq(self.commands.ready | ~good),
        ]
        rejected = self.words.valid & ~good
        m.d.comb += [self.rejecting.opcode.eq(rejected & ~known_opcode),
                     self.rejecting.address.eq(rejected & known_opcode)]
        saturating_increment(m, self.bad_opcodes, self.rejecting.opcode)
        saturating_increment(m, self.bad_addresses, self.rejecting.address)
        with m.If(rejected):
            m.d.sync += self.error.eq(1)
        with m.If(self.clear):
            m.d.sync += [self.error.eq(0), self.bad_opcodes.eq(0), self.bad_addresses.eq(0)]
        return m
