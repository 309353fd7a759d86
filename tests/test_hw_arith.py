"""The engine's and update sequencer's selectors in Amaranth's simulator: the priority encoder, the Mux chain."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from eligo_hw.arith import lowest_set, select


def settle(module: Module, drive: Signal, values: list[int], read: Signal) -> list[int]:
    """``read`` after each of ``values`` is put on ``drive``."""
    got = []

    async def bench(ctx):
        for value in values:
            ctx.set(drive, value)
            got.append(ctx.get(read))

    sim = Simulator(module)
    sim.add_testbench(bench)
    sim.run()
    return got


@pytest.mark.parametrize("width", [1, 2, 3, 5, 16, 17, 128])
def test_lowest_set_is_the_lowest_spike(width):
    rng = np.random.default_rng(width)
    values = [1, (1 << width) - 1, 1 << (width - 1)]
    values += [int(v) or 1 for v in rng.integers(0, 1 << min(width, 62), 200)]
    values += [1 << int(b) | 1 << (width - 1) for b in rng.integers(0, width, 50)]
    bits, index = Signal(width), Signal(8)
    m = Module()
    m.d.comb += index.eq(lowest_set(bits))
    assert settle(m, bits, values, index) == [(v & -v).bit_length() - 1 for v in values]


def test_select_picks_by_index_and_the_last_past_the_end():
    index, chosen = Signal(3), Signal(8)
    m = Module()
    m.d.comb += chosen.eq(select([11, 22, 33], index))
    assert settle(m, index, list(range(8)), chosen) == [11, 22, 33, 33, 33, 33, 33, 33]
