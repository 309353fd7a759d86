"""The accelerator top in Verilog, driven by the driver's ``rtl`` transport, equals the ``model`` transport."""

from __future__ import annotations

import pytest

from eligo.config import AcceleratorConfig, LearningConfig, NetworkShape
from eligo_hw.export import write_verilog
from eligo_hw.top import Accelerator
from eligo_sim.runner import SIMULATORS, build_bench

SMALL = AcceleratorConfig(network=NetworkShape(n_inputs=24, hidden=(16,), n_classes=4), lanes=8,
                          learning=LearningConfig(alpha_post=1, lr_shift=2))
# Two hidden layers, each learning from its own TESS signal: the packets carry a spike count per layer.
DEEP = AcceleratorConfig(network=NetworkShape(n_inputs=16, hidden=(8, 8), n_classes=4), lanes=4,
                         learning=LearningConfig(rule="tess", alpha_post=1, lr_shift=2))
SMALL_RUN = {"samples": 5, "steps": 6, "event_rate": 0.3, "weight_seed": 2, "gain": 3.0, "data_seed": 7,
             "timeout_ns": 2_000_000}


def run_top(simulator: str, cfg: AcceleratorConfig, run: dict, tmp_path, seed: int = 1, **options):
    source = write_verilog(Accelerator(cfg, **options), "accelerator", tmp_path / "accelerator.v")
    bench = build_bench(simulator=simulator, sources=[source], toplevel="accelerator", build_dir=tmp_path / simulator)
    return bench.run("eligo_sim.benches.accelerator_top", params={"config": cfg.to_dict(), **run}, seed=seed)


@pytest.mark.parametrize("simulator", [pytest.param(name, marks=pytest.mark.slow) if name == "verilator" else name
                                       for name in SIMULATORS])  # Verilator's build alone takes minutes
def test_top_matches_model_transport(simulator, tmp_path):
    result = run_top(simulator, SMALL, SMALL_RUN, tmp_path)
    assert result.tests == 4 and result.failed == 0


@pytest.mark.parametrize("simulator", [pytest.param(name, marks=pytest.mark.slow) if name == "verilator" else name
                                       for name in SIMULATORS])
def test_deep_top_matches_model_transport(simulator, tmp_path):
    result = run_top(simulator, DEEP, SMALL_RUN, tmp_path)
    assert result.tests == 4 and result.failed == 0



def test_top_without_stream_slices_matches_model_transport(tmp_path):
    """The iCEBreaker's top (no register slices on the word stream) behaves as the default one."""
    result = run_top("icarus", SMALL, SMALL_RUN, tmp_path, stream_slices=False)
    assert result.tests == 4 and result.failed == 0
