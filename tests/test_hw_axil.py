"""Register file in the Amaranth simulator: fast checks of decode, strobes, w1c and SLVERR under random timing."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from eligo.config import AcceleratorConfig
from eligo.regmap import MAGIC, build_register_map
from eligo_hw.axil import OKAY, SLVERR, AxiLiteRegisters

REGMAP = build_register_map(AcceleratorConfig())
UNMAPPED = 0xFFC
BUS_ERROR = 1 << REGMAP["ERROR"].field("bus_error").lsb


class Master:
    """Drives one request at a time with random idle cycles, AW/W skew and response back-pressure."""

    def __init__(self, ctx, dut, rng):
        self.ctx, self.bus, self.rng = ctx, dut.s_axil, rng

    async def idle(self, p=0.4):
        while self.rng.random() < p:
            await self.ctx.tick()

    async def write(self, address, data, strobe=0xF, pulse=None):
        """``pulse`` = (signal, value): drive it for exactly the cycle in which the write takes effect."""
        ctx, bus = self.ctx, self.bus
        aw_at, w_at = self.rng.integers(0, 4, 2)
        aw_done = w_done = False
        cycle = 0
        while not (aw_done and w_done):
            ctx.set(bus.awvalid, int(not aw_done and cycle >= aw_at))
            ctx.set(bus.awaddr, address)
            ctx.set(bus.wvalid, int(not w_done and cycle >= w_at))
            ctx.set(bus.wdata, data)
            ctx.set(bus.wstrb, strobe)
            _, _, awv, awr, wv, wr = await ctx.tick().sample(bus.awvalid, bus.awready, bus.wvalid, bus.wready)
            aw_done |= bool(awv and awr)
            w_done |= bool(wv and wr)
            cycle += 1
        ctx.set(bus.awvalid, 0)
        ctx.set(bus.wvalid, 0)
        if pulse:
            ctx.set(*pulse)
            await ctx.tick()
            ctx.set(pulse[0], 0)
        (resp,) = await self._response(bus.bvalid, bus.bready, bus.bresp)
        return resp

    async def read(self, address):
        ctx, bus = self.ctx, self.bus
        await self.idle()
        ctx.set(bus.arvalid, 1)
        ctx.set(bus.araddr, address)
        await ctx.tick().until(bus.arready)
        ctx.set(bus.arvalid, 0)
        return await self._response(bus.rvalid, bus.rready, bus.rresp, bus.rdata)

    async def _response(self, valid, ready, *payload):
        while True:
            self.ctx.set(ready, int(self.rng.random() < 0.5))
            _, _, v, r, *values = await self.ctx.tick().sample(valid, ready, *payload)
            if v and r:
                break
        # Exactly one response: valid must drop after the handshake.
        assert not self.ctx.get(valid), "a second response followed the first"
        self.ctx.set(ready, 0)
        return [int(v) for v in values]


def simulate(testbench, seed=0):
    dut = AxiLiteRegisters(REGMAP)
    rng = np.random.default_rng(seed)
    sim = Simulator(dut)
    sim.add_clock(1e-8)

    async def bench(ctx):
        await testbench(Master(ctx, dut, rng), ctx, dut, rng)

    commands = []

    async def monitor(ctx):
        async for _, _, command in ctx.tick().sample(dut.command):
            commands.append(int(command))

    sim.add_testbench(bench)
    sim.add_process(monitor)
    sim.run()
    return commands


@pytest.mark.parametrize("seed", [0, 1])
def test_constants_reset_values_and_live_inputs(seed):
    async def testbench(bus, ctx, dut, rng):
        live = {reg.name: int(rng.integers(0, 1 << reg.width)) for reg in REGMAP if reg.source == "port"}
        for name, value in live.items():
            ctx.set(getattr(dut, name.lower()), value)
        for reg in REGMAP:
            expected = live.get(reg.name, 0 if reg.access == "wo" else reg.reset)
            assert await bus.read(reg.offset) == [OKAY, expected], reg.name
        assert (await bus.read(REGMAP["ID"].offset))[1] == MAGIC

    simulate(testbench, seed)


def test_byte_strobes_write_only_their_bytes():
    async def testbench(bus, ctx, dut, rng):
        scratch = REGMAP["SCRATCH"].offset
        assert await bus.write(scratch, 0x11223344) == OKAY
        assert await bus.write(scratch + 1, 0xAABBCCDD, strobe=0b0110) == OKAY  # low address bits ignored
        assert await bus.read(scratch) == [OKAY, 0x11BBCC44]
        assert await bus.write(scratch, 0xFFFFFFFF, strobe=0) == OKAY
        assert await bus.read(scratch) == [OKAY, 0x11BBCC44]
        assert await bus.write(REGMAP["CONTROL"].offset, 1) == OKAY
        assert ctx.get(dut.control) == 1

    simulate(testbench)


def test_command_bits_pulse_for_one_cycle():
    async def testbench(bus, ctx, dut, rng):
        assert await bus.write(REGMAP["COMMAND"].offset, 0b101) == OKAY
        assert await bus.write(REGMAP["COMMAND"].offset, 0b010, strobe=0b0010) == OKAY  # strobe masks it out
        assert await bus.read(REGMAP["COMMAND"].offset) == [OKAY, 0]

    commands = simulate(testbench)
    assert [c for c in commands if c] == [0b101]


def test_error_bits_are_sticky_and_write_one_clears():
    async def testbench(bus, ctx, dut, rng):
        error = REGMAP["ERROR"].offset
        ctx.set(dut.error_set, 0b0101)
        await ctx.tick()
        ctx.set(dut.error_set, 0)
        assert await bus.read(error) == [OKAY, 0b0101]
        assert await bus.write(error, 0b0001) == OKAY
        assert await bus.read(error) == [OKAY, 0b0100]
        # A set in the cycle of the clearing write wins: no error is lost.
        assert await bus.write(error, 0b0100, pulse=(dut.error_set, 0b0100)) == OKAY
        assert await bus.read(error) == [OKAY, 0b0100]

    simulate(testbench)


@pytest.mark.parametrize("seed", [0, 1])
def test_illegal_accesses_answer_slverr_and_set_bus_error(seed):
    async def testbench(bus, ctx, dut, rng):
        error = REGMAP["ERROR"].offset
        scratch = REGMAP["SCRATCH"].offset
        await bus.write(scratch, 0x5A5A5A5A)
        for reg in (r for r in REGMAP if r.access == "ro"):
            assert await bus.write(reg.offset, 0xFFFFFFFF) == SLVERR, reg.name
            assert await bus.read(error) == [OKAY, BUS_ERROR]
            assert await bus.write(error, BUS_ERROR) == OKAY
        assert await bus.write(UNMAPPED, 1) == SLVERR
        assert await bus.read(error) == [OKAY, BUS_ERROR]
        assert await bus.write(error, BUS_ERROR) == OKAY
        assert await bus.read(UNMAPPED) == [SLVERR, 0]
        assert await bus.read(error) == [OKAY, BUS_ERROR]
        # Nothing else changed.
        assert await bus.read(scratch) == [OKAY, 0x5A5A5A5A]
        assert await bus.read(REGMAP["ID"].offset) == [OKAY, MAGIC]

    simulate(testbench, seed)
