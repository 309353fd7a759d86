"""Clock and reset start-up shared by the cocotb benches."""

from __future__ import annotations

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge


async def start_clock_and_reset(dut, idle_inputs: tuple[str, ...]) -> None:
    """Start a 100 MHz clock, hold ``idle_inputs`` at 0 through two reset cycles, return on a falling edge.

    Benches drive inputs on falling edges, so they start right where this leaves off.
    """
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    for port in idle_inputs:
        getattr(dut, port).value = 0
    dut.rst.value = 1
    for _ in range(2):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    await FallingEdge(dut.clk)
