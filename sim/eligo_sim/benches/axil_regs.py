"""Bench of the AXI4-Lite register file, driven by cocotbext-axi's master.

Every channel gets random pauses (idle cycles on AW/W/AR, back-pressure on
B/R), so handshakes are checked with the channels out of step. Expected
values come from the register map the Verilog was generated from.
"""

from __future__ import annotations

import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge
from cocotbext.axi import AxiLiteBus, AxiLiteMaster, AxiResp

from eligo.config import AcceleratorConfig
from eligo.regmap import build_register_map
from eligo_sim.runner import bench_params, bench_seed

UNMAPPED = 0xFFC


def pauses(rng: random.Random, probability: float):
    while True:
        yield rng.random() < probability


async def start(dut):
    """Clock, reset, random live inputs and a master with random pauses on all five channels."""
    rng = random.Random(bench_seed())
    regmap = build_register_map(AcceleratorConfig.from_dict(bench_params()["config"]))
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    live = {reg.name: rng.getrandbits(reg.width) for reg in regmap if reg.source == "port"}
    for name, value in live.items():
        getattr(dut, name.lower()).value = value
    dut.error_set.value = 0
    dut.rst.value = 1
    master = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk, dut.rst)
    for channel in (master.write_if.aw_channel, master.write_if.w_channel, master.write_if.b_channel,
                    master.read_if.ar_channel, master.read_if.r_channel):
        channel.set_pause_generator(pauses(rng, 0.4))
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await RisingEdge(dut.clk)
    return master, regmap, live, rng


async def read(master, address) -> tuple[AxiResp, int]:
    response = await master.read(address, 4)
    return response.resp, int.from_bytes(response.data, "little")


async def write(master, address, value, length=4) -> AxiResp:
    return (await master.write(address, value.to_bytes(length, "little"))).resp


@cocotb.test()
async def identity_and_reset_values_match_the_map(dut):
    master, regmap, live, _ = await start(dut)
    for reg in regmap:
        expected = live.get(reg.name, 0 if reg.access == "wo" else reg.reset)
        assert await read(master, reg.offset) == (AxiResp.OKAY, expected), reg.name
    words = {}
    for name in ("ID", "VERSION", "CONFIG_HASH"):
        words[name] = (await read(master, regmap[name].offset))[1]
    regmap.check_identity(words["ID"], words["VERSION"], words["CONFIG_HASH"])


@cocotb.test()
async def partial_writes_change_only_their_bytes(dut):
    master, regmap, _, rng = await start(dut)
    scratch = regmap["SCRATCH"].offset
    model = 0
    for _ in range(40):
        start_byte = rng.randrange(4)
        length = rng.randint(1, 4 - start_byte)  # cocotbext-axi turns this into awaddr + wstrb
        value = rng.getrandbits(8 * length)
        assert await write(master, scratch + start_byte, value, length) == AxiResp.OKAY
        mask = ((1 << 8 * length) - 1) << 8 * start_byte
        model = (model & ~mask) | (value << 8 * start_byte)
        assert await read(master, scratch) == (AxiResp.OKAY, model)
    control = regmap["CONTROL"]
    assert await write(master, control.offset, 1) == AxiResp.OKAY
    assert int(dut.control.value) == 1 and await read(master, control.offset) == (AxiResp.OKAY, 1)


@cocotb.test()
async def error_causes_are_sticky_until_written_one(dut):
    master, regmap, _, rng = await start(dut)
    error = regmap["ERROR"]
    causes = [f for f in error.fields if f.name != "bus_error"]
    for _ in range(10):
        raised = sum(f.mask for f in causes if rng.random() < 0.5)
        await FallingEdge(dut.clk)
        dut.error_set.value = raised
        await FallingEdge(dut.clk)
        dut.error_set.value = 0
        assert await read(master, error.offset) == (AxiResp.OKAY, raised)
        cleared = raised & rng.getrandbits(error.width)
        assert await write(master, error.offset, cleared) == AxiResp.OKAY
        assert await read(master, error.offset) == (AxiResp.OKAY, raised & ~cleared)
        await write(master, error.offset, error.mask)


@cocotb.test()
async def illegal_accesses_answer_slverr_and_change_nothing(dut):
    master, regmap, live, _ = await start(dut)
    error = regmap["ERROR"]
    bus_error = error.field("bus_error").mask
    scratch = regmap["SCRATCH"].offset
    await write(master, scratch, 0xC0FFEE)
    for address in [reg.offset for reg in regmap if reg.access == "ro"] + [UNMAPPED]:
        assert await write(master, address, 0xFFFFFFFF) == AxiResp.SLVERR, hex(address)
        assert await read(master, error.offset) == (AxiResp.OKAY, bus_error)
        assert await write(master, error.offset, bus_error) == AxiResp.OKAY
    assert await read(master, UNMAPPED) == (AxiResp.SLVERR, 0)
    assert await read(master, error.offset) == (AxiResp.OKAY, bus_error)
    for reg in regmap:
        if reg.access == "ro":
            assert await read(master, reg.offset) == (AxiResp.OKAY, live.get(reg.name, reg.reset)), reg.name
    assert await read(master, scratch) == (AxiResp.OKAY, 0xC0FFEE)
