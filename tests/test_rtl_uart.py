"""The UART bridge and top in Verilog: the host's ``serial`` transport on it equals the ``model`` transport."""

from __future__ import annotations

import pytest

from eligo.config import AcceleratorConfig, LearningConfig, NetworkShape
from eligo_hw.export import write_verilog
from eligo_hw.uart import SerialAccelerator, clocks_per_bit, output_depth_for
from eligo_sim.runner import SIMULATORS, build_bench

TINY = AcceleratorConfig(network=NetworkShape(n_inputs=16, hidden=(8,), n_classes=4), lanes=4,
                         learning=LearningConfig(alpha_post=1, lr_shift=2))
TINY_RUN = {"samples": 3, "steps": 4, "event_rate": 0.3, "weight_seed": 2, "gain": 3.0, "data_seed": 7,
            "divider": 4}


# The iCEBreaker's choices (``eligo_hw.boards``): layer 0's weights single-ported (SPRAM there), small buffers.
UP5K_OPTIONS = {"single_port_layers": (0,), "event_fifo_words": 2, "output_packets": 1}


@pytest.mark.parametrize("simulator, options", [
    *((pytest.param(name, {}, marks=pytest.mark.slow) if name == "verilator" else (name, {}))
      for name in SIMULATORS),  # Verilator's build alone takes minutes
    ("icarus", UP5K_OPTIONS),
])
def test_serial_transport_on_rtl_matches_model(simulator, options, tmp_path):
    source = write_verilog(SerialAccelerator(TINY, divider=TINY_RUN["divider"], **options), "serial_accelerator",
                           tmp_path / "serial_accelerator.v")
    bench = build_bench(simulator=simulator, sources=[source], toplevel="serial_accelerator",
                        build_dir=tmp_path / simulator)
    result = bench.run("eligo_sim.benches.uart_bridge", params={"config": TINY.to_dict(), **TINY_RUN}, seed=1)
    assert result.tests == 2 and result.failed == 0


def test_baud_divider_and_its_limits():
    assert clocks_per_bit(50e6, 115_200) == 434
    assert clocks_per_bit(12e6, 3_000_000) == 4
    with pytest.raises(ValueError, match="at least 4"):
        clocks_per_bit(12e6, 6_000_000)
    with pytest.raises(ValueError, match="off"):
        clocks_per_bit(10e6, 1_800_000)  # 5.6 clocks per bit: 6 gives 7.4 % too slow
    with pytest.raises(ValueError, match="positive"):
        clocks_per_bit(50e6, 0)


def test_buffer_options_are_checked():
    with pytest.raises(ValueError, match="event_fifo_words must be at least 2"):
        SerialAccelerator(TINY, divider=4, event_fifo_words=1)
    with pytest.raises(ValueError, match="output_packets must be at least 1"):
        SerialAccelerator(TINY, divider=4, output_packets=0)


def test_output_fifo_holds_two_packets():
    # 1 END word + 4 scores + 1 spike count = 6 words; two packets fit in 16.
    assert output_depth_for(TINY) == 16
