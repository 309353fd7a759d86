"""The driver's ``rtl`` transport on real RTL: the register file plus an AXI-Stream loopback FIFO.

Stands in for the top until it exists: registers answer as the map says, and
whatever goes in on ``s_axis`` comes back on ``m_axis`` with its TLAST. Every
AXI-Lite channel pauses at random, the source idles and the sink
back-pressures at random. The driver runs as blocking code in a bridge thread.
"""

from __future__ import annotations

import dataclasses
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.task import bridge
from cocotb.triggers import ClockCycles, RisingEdge
from cocotbext.axi import AxiLiteBus, AxiLiteMaster, AxiStreamBus, AxiStreamSink, AxiStreamSource

from eligo.config import AcceleratorConfig
from eligo.driver import Accelerator, DeviceError, PairingError, StreamLengthError, TransportTimeout
from eligo.driver.rtl import RtlTransport
from eligo.regmap import build_register_map
from eligo_sim.runner import bench_params, bench_seed


def pauses(rng: random.Random, probability: float):
    while True:
        yield rng.random() < probability


async def start(dut):
    rng = random.Random(bench_seed())
    cfg = AcceleratorConfig.from_dict(bench_params()["config"])
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    master = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk, dut.rst)
    for channel in (master.write_if.aw_channel, master.write_if.w_channel, master.write_if.b_channel,
                    master.read_if.ar_channel, master.read_if.r_channel):
        channel.set_pause_generator(pauses(rng, 0.3))
    source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk, dut.rst)
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst)
    source.set_pause_generator(pauses(rng, 0.3))
    sink.set_pause_generator(pauses(rng, 0.5))
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await RisingEdge(dut.clk)
    return cfg, RtlTransport(master, build_register_map(cfg), source, sink, timeout_ns=20_000), rng


@cocotb.test()
async def driver_registers_through_axi_lite(dut):
    cfg, transport, _ = await start(dut)

    def host():
        accelerator = Accelerator(transport, cfg)  # identity, then clear errors/counters and start
        accelerator.write("SCRATCH", 0xC0FF_EE42)
        assert accelerator.read("SCRATCH") == 0xC0FF_EE42
        assert accelerator.counters().as_dict() == dict.fromkeys(accelerator.counters().as_dict(), 0)
        try:
            transport.write_register(accelerator.regmap["ID"].offset, 1)
        except DeviceError as exc:
            assert exc.causes == ("bus_error",) and "SLVERR" in str(exc)
        else:
            raise AssertionError("a write to ID must answer SLVERR")
        assert accelerator.errors() == ("bus_error",)
        accelerator.clear_errors()
        assert accelerator.errors() == ()
        try:
            Accelerator(transport, dataclasses.replace(cfg, lanes=cfg.lanes * 2))
        except PairingError as exc:
            assert "configuration hash" in str(exc)
        else:
            raise AssertionError("another configuration must not pair")

    await bridge(host)()


@cocotb.test()
async def stream_frames_keep_their_length_under_backpressure(dut):
    _, transport, rng = await start(dut)

    def host():
        for length in (1, 7, 300):
            words = np.array([rng.getrandbits(32) for _ in range(length)], dtype=np.uint32)
            transport.send_words(words)
            assert np.array_equal(transport.receive_words(length, timeout=1.0), words)
        transport.send_words(np.arange(10, dtype=np.uint32))
        try:
            transport.receive_words(9, timeout=1.0)
        except StreamLengthError as exc:
            assert "10 words, expected 9" in str(exc)
        else:
            raise AssertionError("a 10-word packet must not pass as 9")
        try:
            transport.receive_words(4, timeout=1.0)
        except TransportTimeout:
            pass
        else:
            raise AssertionError("nothing was sent: the receive must time out")

    await bridge(host)()
