"""Layer weight update in Verilog on Icarus and Verilator: every weight after learning, bit for bit."""

from __future__ import annotations

import pytest

from eligo.config import AcceleratorConfig, LearningConfig, NetworkShape
from eligo.fixed.model import FixedModel, initial_weights
from eligo_hw.export import Ecp5Primitives, write_verilog
from eligo_hw.update import LayerUpdateWithBank
from eligo_sim.runner import ECP5_MODELS, SIMULATORS, build_bench

GAIN = 4.0
WEIGHT_SEED = 5
# (config, layer): a saturating narrow hidden layer on 8 lanes (run-time decays up to 12: shifts 8..20, past the
# 16-bit LFSR), and a readout of 10 classes in 16 lanes.
# The full-size 512 x 128 layer trains inside the layer engine (tests/test_rtl_engine.py).
CASES = {
    "hidden-narrow-p8": (AcceleratorConfig(network=NetworkShape(n_inputs=24, hidden=(32,), n_classes=4), lanes=8,
                                           weight_bits=5,
                                           learning=LearningConfig(lr_shift=2, alpha_post=1, max_lr_decay=12)), 0),
    # The same layer in two update banks (even and odd rows walked at once, each with its own LFSRs).
    "hidden-narrow-p8-banks2": (AcceleratorConfig(network=NetworkShape(n_inputs=24, hidden=(32,), n_classes=4),
                                                  lanes=8, banks=2, weight_bits=5,
                                                  learning=LearningConfig(lr_shift=2, alpha_post=1,
                                                                          max_lr_decay=12)), 0),
    "readout-p16": (AcceleratorConfig(network=NetworkShape(n_inputs=16, hidden=(32,), n_classes=10),
                                      lanes=16, learning=LearningConfig(lr_shift=3)), 1),
}


def build(simulator, cfg, layer, build_dir, single_port=False, ecp5=False):
    words = FixedModel(cfg, initial_weights(cfg, WEIGHT_SEED, gain=GAIN)).words[layer]
    source = write_verilog(LayerUpdateWithBank(cfg, layer, words, single_port=single_port), "layer_update",
                           build_dir / "layer_update.v", platform=Ecp5Primitives() if ecp5 else None)
    return build_bench(simulator=simulator, sources=[source, *([ECP5_MODELS] if ecp5 else [])],
                       toplevel="layer_update", build_dir=build_dir / simulator)


def params(cfg, layer, steps):
    return {"config": cfg.to_dict(), "layer": layer, "steps": steps, "weight_seed": WEIGHT_SEED, "gain": GAIN}


def run_case(simulator, case, steps, seeds, tmp_path, single_port=False, ecp5=False):
    cfg, layer = CASES[case]
    bench = build(simulator, cfg, layer, tmp_path, single_port, ecp5)
    for seed in seeds:
        result = bench.run("eligo_sim.benches.layer_update", params=params(cfg, layer, steps), seed=seed)
        print(f"layer update {case} on {simulator}, seed {seed}: {result.real_time_s:.2f} s")


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_hidden_layer_update_bench(simulator, tmp_path):
    run_case(simulator, "hidden-narrow-p8", 25, (1, 2, 3), tmp_path)


# The single-port weight memory (SPRAM on iCE40) changes the schedule, not one bit of the result.
@pytest.mark.parametrize("simulator", SIMULATORS)
def test_single_port_layer_update_bench(simulator, tmp_path):
    run_case(simulator, "hidden-narrow-p8", 25, (1, 2), tmp_path, single_port=True)


# The netlist an ECP5 build gets: the lanes' multipliers are MULT18X18D DSPs with their input registers.
@pytest.mark.parametrize("simulator", SIMULATORS)
def test_ecp5_layer_update_bench(simulator, tmp_path):
    run_case(simulator, "hidden-narrow-p8", 25, (1, 2), tmp_path, ecp5=True)
    assert "MULT18X18D" in (tmp_path / "layer_update.v").read_text()


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_banked_layer_update_bench(simulator, tmp_path):
    run_case(simulator, "hidden-narrow-p8-banks2", 25, (1, 2), tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("simulator", SIMULATORS)
def test_readout_update_bench(simulator, tmp_path):
    run_case(simulator, "readout-p16", 25, (1, 2), tmp_path)
