"""LFSR bank: every lane's register follows the model's sequence under random step strobes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from amaranth.sim import Simulator

from eligo.config import LfsrFormat
from eligo.fixed.lfsr import lane_states
from eligo_hw.lfsr import LfsrBank

FORMATS = {
    "default-16": (LfsrFormat(), 16),
    "short-4": (LfsrFormat(bits=5, taps=0x14, seed=0x3), 4),  # period 31: wraps within the test
    "wide-8": (LfsrFormat(bits=20, taps=0x90000, seed=0x12345), 8),
}


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize("seed", [0, 1])
def test_bank_follows_model_sequence(name, seed):
    fmt, lanes = FORMATS[name]
    dut = LfsrBank(fmt, lanes)
    rng = np.random.default_rng(seed)
    strobes = rng.random(400) < 0.6
    seen = []

    async def bench(ctx):
        seen.append(ctx.get(dut.states))
        for strobe in strobes:
            ctx.set(dut.step, int(strobe))
            await ctx.tick()
            seen.append(ctx.get(dut.states))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    steps = torch.tensor(np.concatenate([[0], np.cumsum(strobes)]))
    expected = lane_states(fmt, lanes, steps).tolist()
    got = [[int(v) for v in state] for state in seen]
    assert got == expected
    assert int(steps[-1]) > fmt.period or name != "short-4", "the short LFSR must wrap around its period"
