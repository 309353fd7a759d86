"""Word decoder: good words pass in order under back-pressure; bad words are counted, never lost silently."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from eligo.words import OPCODE_SHIFT, Opcode, WordError, decode_array
from eligo_hw.words import Kind, WordDecoder

N_INPUTS = 100


def test_kinds_are_the_opcodes():
    """The decoder passes exactly the opcodes the host's word format defines, under the same names and codes."""
    assert [(kind.name, kind.value) for kind in Kind] == [(op.name, op.value) for op in Opcode]
    assert Kind.as_shape().width == 32 - OPCODE_SHIFT and Kind.__module__ == "eligo_hw.words"


def random_words(rng: np.random.Generator, n: int) -> np.ndarray:
    opcodes = rng.choice([0, 1, 1, 1, 2, 3, 4, 5, 15], size=n)
    payloads = np.where(rng.random(n) < 0.9, rng.integers(0, N_INPUTS, n), rng.integers(0, 1 << 28, n))
    return ((opcodes.astype(np.int64) << OPCODE_SHIFT) | payloads).astype(np.uint32)


def expected(words: np.ndarray) -> tuple[list[int], int, int]:
    good, bad_op, bad_addr = [], 0, 0
    for word in words:
        try:
            (op,), (payload,) = decode_array(np.array([word]))
        except WordError:
            bad_op += 1
            continue
        if op == Opcode.EVENT and payload >= N_INPUTS:
            bad_addr += 1
        else:
            good.append(int(word))
    return good, bad_op, bad_addr


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_decoder_passes_good_words_and_counts_bad(seed):
    rng = np.random.default_rng(seed)
    words = random_words(rng, 600)
    good, bad_op, bad_addr = expected(words)
    assert bad_op and bad_addr, "stimulus must contain both kinds of bad word"
    dut = WordDecoder(N_INPUTS)
    received = []

    async def source(ctx):
        for word in words:
            while rng.random() < 0.3:  # idle cycles
                await ctx.tick()
            ctx.set(dut.words.payload, int(word))
            ctx.set(dut.words.valid, 1)
            await ctx.tick().until(dut.words.ready)
            ctx.set(dut.words.valid, 0)

    async def sink(ctx):
        while len(received) < len(good):
            ctx.set(dut.commands.ready, int(rng.random() < 0.6))  # random back-pressure
            _, _, valid, ready, payload = await ctx.tick().sample(
                dut.commands.valid, dut.commands.ready, dut.commands.payload)
            if valid and ready:
                received.append(int(payload.payload) | (int(payload.kind.value) << OPCODE_SHIFT))
        for _ in range(4):
            await ctx.tick()
        assert ctx.get(dut.bad_opcodes) == bad_op
        assert ctx.get(dut.bad_addresses) == bad_addr
        assert ctx.get(dut.error) == 1
        ctx.set(dut.clear, 1)
        await ctx.tick()
        assert (ctx.get(dut.error), ctx.get(dut.bad_opcodes)) == (0, 0)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(source, background=True)
    sim.add_testbench(sink)
    sim.run()
    assert received == good
