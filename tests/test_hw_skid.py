"""SkidBuffer: words in order, none lost or repeated, a flush forgets exactly the words held, and no output of
it depends combinationally on the other side's handshake (that is what it is for)."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest
from amaranth.sim import Simulator

from eligo_hw.skid import SkidBuffer


def run(seed: int, cycles: int, p_valid: float, p_ready: float, p_flush: float) -> dict:
    rng = np.random.default_rng(seed)
    dut = SkidBuffer(16)
    held: deque[int] = deque()
    stats = {"in": 0, "out": 0, "flushed": 0}

    async def bench(ctx):
        next_word = 0
        for _ in range(cycles):
            valid, ready, flush = rng.random() < p_valid, rng.random() < p_ready, rng.random() < p_flush
            ctx.set(dut.i.payload, next_word)
            ctx.set(dut.flush, flush)
            # Outputs seen with the other side's handshake both ways: the same, so nothing passes through.
            seen = set()
            for v, r in ((0, 0), (1, 1), (int(valid), int(ready))):
                ctx.set(dut.i.valid, v)
                ctx.set(dut.o.ready, r)
                seen.add((ctx.get(dut.i.ready), ctx.get(dut.o.valid), ctx.get(dut.o.payload)))
            assert len(seen) == 1, "an output follows the other side's handshake within the cycle"
            i_ready, o_valid, o_payload = seen.pop()
            assert i_ready == (len(held) < 2 and not flush)
            assert o_valid == (len(held) > 0)
            if o_valid:
                assert o_payload == held[0]
            if flush:
                stats["flushed"] += len(held)
                held.clear()
            else:
                if o_valid and ready:
                    held.popleft()
                    stats["out"] += 1
                if valid and i_ready:
                    held.append(next_word)
                    next_word = (next_word + 1) % (1 << 16)
                    stats["in"] += 1
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    stats["held"] = len(held)
    return stats


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_words_pass_in_order_and_a_flush_forgets_only_what_is_held(seed):
    stats = run(seed, 3000, p_valid=0.7, p_ready=0.6, p_flush=0.02)
    assert stats["in"] == stats["out"] + stats["flushed"] + stats["held"]
    assert stats["out"] > 1000 and stats["flushed"] > 0, stats


def test_full_throughput_when_neither_side_waits():
    """A word a cycle: the slice costs latency, not bandwidth."""
    stats = run(0, 500, p_valid=1.0, p_ready=1.0, p_flush=0.0)
    assert stats["out"] == 499 and stats["held"] == 1


def test_unregistered_is_a_wire():
    """``registered=False``: ``o`` is ``i`` in the same cycle, and a flush refuses the word offered."""
    dut = SkidBuffer(8, registered=False)

    async def bench(ctx):
        for valid, ready, flush in [(1, 1, 0), (1, 0, 0), (0, 1, 0), (1, 1, 1)]:
            ctx.set(dut.i.payload, 0x5A)
            ctx.set(dut.i.valid, valid)
            ctx.set(dut.o.ready, ready)
            ctx.set(dut.flush, flush)
            assert ctx.get(dut.o.payload) == 0x5A
            assert ctx.get(dut.o.valid) == (valid and not flush)
            assert ctx.get(dut.i.ready) == (ready and not flush)
            await ctx.delay(1e-6)

    sim = Simulator(dut)  # no clock: nothing in it is registered
    sim.add_testbench(bench)
    sim.run()
