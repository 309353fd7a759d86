"""Register file in Verilog on Icarus and Verilator, driven by cocotbext-axi with random pauses on every channel."""

from __future__ import annotations

import pytest

from eligo.config import AcceleratorConfig, LearningConfig, NetworkShape
from eligo.regmap import build_register_map
from eligo_hw.axil import AxiLiteRegisters
from eligo_hw.export import write_verilog
from eligo_sim.runner import SIMULATORS, build_bench

# Two hidden layers, so the map has more than the default's registers.
CONFIG = AcceleratorConfig(network=NetworkShape(n_inputs=34, hidden=(32, 16), n_classes=4), lanes=8,
                           learning=LearningConfig(rule="stllr_dfa"))


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_register_file_bench(simulator, tmp_path):
    source = write_verilog(AxiLiteRegisters(build_register_map(CONFIG)), "axil_regs", tmp_path / "axil_regs.v")
    bench = build_bench(simulator=simulator, sources=[source], toplevel="axil_regs", build_dir=tmp_path / simulator)
    for seed in (1, 2):
        result = bench.run("eligo_sim.benches.axil_regs", params={"config": CONFIG.to_dict()}, seed=seed)
        assert result.tests == 4
        print(f"register file on {simulator}, seed {seed}: {result.real_time_s:.2f} s")
