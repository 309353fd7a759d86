"""The ``rtl`` transport in a simulator, against the register file and an AXI-Stream loopback (until the top)."""

from __future__ import annotations

import pytest
from amaranth.hdl import Cat, Module
from amaranth.lib import fifo, wiring
from amaranth.lib.wiring import In, Out

from eligo.config import AcceleratorConfig, NetworkShape
from eligo.regmap import build_register_map
from eligo_hw.axil import AxiLiteRegisters, AxiLiteSignature
from eligo_hw.export import write_verilog
from eligo_sim.runner import SIMULATORS, build_bench

CONFIG = AcceleratorConfig(network=NetworkShape(n_inputs=32, hidden=(16,), n_classes=4), lanes=4)
AXI_STREAM = wiring.Signature({"tdata": Out(32), "tvalid": Out(1), "tready": In(1), "tlast": Out(1)})


class RegistersWithLoopback(wiring.Component):
    """The register file (live inputs at 0) and a FIFO from ``s_axis`` to ``m_axis`` that keeps TLAST."""

    def __init__(self, regmap):
        self.regmap = regmap
        super().__init__({"s_axil": In(AxiLiteSignature()), "s_axis": In(AXI_STREAM), "m_axis": Out(AXI_STREAM)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.registers = registers = AxiLiteRegisters(self.regmap)
        wiring.connect(m, wiring.flipped(self.s_axil), registers.s_axil)
        m.submodules.loop = loop = fifo.SyncFIFO(width=33, depth=8)
        m.d.comb += [
            loop.w_data.eq(Cat(self.s_axis.tdata, self.s_axis.tlast)),
            loop.w_en.eq(self.s_axis.tvalid),
            self.s_axis.tready.eq(loop.w_rdy),
            self.m_axis.tdata.eq(loop.r_data[:32]),
            self.m_axis.tlast.eq(loop.r_data[32]),
            self.m_axis.tvalid.eq(loop.r_rdy),
            loop.r_en.eq(self.m_axis.tready),
        ]
        return m


@pytest.mark.parametrize("simulator", [pytest.param(name, marks=pytest.mark.slow) if name == "verilator" else name
                                       for name in SIMULATORS])  # Verilator's compile alone takes about a minute
def test_rtl_transport(simulator, tmp_path):
    source = write_verilog(RegistersWithLoopback(build_register_map(CONFIG)), "driver_loopback",
                           tmp_path / "driver_loopback.v")
    bench = build_bench(simulator=simulator, sources=[source], toplevel="driver_loopback",
                        build_dir=tmp_path / simulator)
    result = bench.run("eligo_sim.benches.driver_loopback", params={"config": CONFIG.to_dict()}, seed=3)
    assert result.tests == 2 and result.failed == 0
