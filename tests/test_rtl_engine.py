"""Layer engine in Verilog on Icarus and Verilator: spikes, state and every weight after learning, bit for bit."""

from __future__ import annotations

import pytest

from eligo.config import AcceleratorConfig, LearningConfig, NetworkShape, NeuronFormat, TraceFormat
from eligo.fixed.model import FixedModel, initial_weights
from eligo_hw.export import write_verilog
from eligo_hw.layer_engine import LayerEngine
from eligo_sim.runner import SIMULATORS, build_bench

WEIGHT_SEED = 2
CASES = {
    # S-TLLR with the post term, two groups per layer-0 row, a fast learning rate that moves weights every step.
    "stllr-p8": (AcceleratorConfig(network=NetworkShape(n_inputs=24, hidden=(16,), n_classes=4), lanes=8,
                                   learning=LearningConfig(alpha_post=1, lr_shift=2)), 3.0),
    # S-TLLR's back-projected signal with 8 classes on 4 lanes: two readout words per hidden neuron.
    "stllr-bp-p4": (AcceleratorConfig(network=NetworkShape(n_inputs=12, hidden=(8,), n_classes=8), lanes=4,
                                      learning=LearningConfig(alpha_post=-1, lr_shift=2, max_lr_decay=3)), 3.0),
    # The back-projection case in two update banks (groups 2 and 2): banked walks, banked reads of W_out.
    "stllr-bp-p4-banks2": (AcceleratorConfig(network=NetworkShape(n_inputs=12, hidden=(8,), n_classes=8), lanes=4,
                                             banks=2, learning=LearningConfig(alpha_post=-1, lr_shift=2,
                                                                              max_lr_decay=3)), 3.0),
    # Two hidden layers in four banks, as many as lanes (a bank takes one row of each pre-trace word).
    "tess-2layer-p4-banks4": (AcceleratorConfig(network=NetworkShape(n_inputs=12, hidden=(8, 4), n_classes=4),
                                                lanes=4, banks=4,
                                                neuron=NeuronFormat(membrane_bits=9, input_bits=8, threshold=40),
                                                learning=LearningConfig(rule="tess", lr_shift=1, alpha_post=1)),
                              4.0),
    # Square-wave DFA, the other S-TLLR signal a bitstream can be built for.
    "stllr-dfa-p8": (AcceleratorConfig(network=NetworkShape(n_inputs=24, hidden=(16,), n_classes=4), lanes=8,
                                       learning=LearningConfig(rule="stllr_dfa", alpha_post=1, lr_shift=2)), 3.0),
    # TESS on 4 lanes, narrow membranes that saturate, zero reset, multiply-encoded traces, late learning start.
    "tess-p4": (AcceleratorConfig(network=NetworkShape(n_inputs=12, hidden=(8,), n_classes=4), lanes=4,
                                  neuron=NeuronFormat(membrane_bits=9, input_bits=8, reset="zero", threshold=40),
                                  traces=TraceFormat(decay="multiply", pre_decay=200, post_decay=100),
                                  learning=LearningConfig(rule="tess", lr_shift=1, alpha_post=-1,
                                                          learn_start_step=2)), 4.0),
    # Two hidden layers of different widths, each learning from its own TESS signal, saturating narrow membranes.
    "tess-2layer-p4": (AcceleratorConfig(network=NetworkShape(n_inputs=12, hidden=(8, 4), n_classes=4), lanes=4,
                                         neuron=NeuronFormat(membrane_bits=9, input_bits=8, threshold=40),
                                         learning=LearningConfig(rule="tess", lr_shift=1, alpha_post=1)), 4.0),
    # Three hidden layers with sign-DFA by their own square waves, two groups per row in the widest layer.
    "dfa-3layer-p4": (AcceleratorConfig(network=NetworkShape(n_inputs=8, hidden=(8, 4, 8), n_classes=3), lanes=4,
                                        learning=LearningConfig(rule="stllr_dfa", lr_shift=2, alpha_post=-1)), 4.0),
    # The project's default layer: 512 inputs x 128 neurons x 10 classes on 16 lanes.
    "stllr-512x128": (AcceleratorConfig(learning=LearningConfig(alpha_post=1)), 2.0),
    "tess-512x128": (AcceleratorConfig(learning=LearningConfig(rule="tess", alpha_post=1)), 2.0),
    "tess-512x128x128": (AcceleratorConfig(network=NetworkShape(hidden=(128, 128)),
                                           learning=LearningConfig(rule="tess", alpha_post=1)), 2.0),
}


def build(simulator, case, build_dir, single_port_layers=()):
    cfg, gain = CASES[case]
    words = FixedModel(cfg, initial_weights(cfg, WEIGHT_SEED, gain=gain)).words
    source = write_verilog(LayerEngine(cfg, words, single_port_layers=single_port_layers), "layer_engine",
                           build_dir / "layer_engine.v")
    return build_bench(simulator=simulator, sources=[source], toplevel="layer_engine", build_dir=build_dir / simulator)


def params(case, **run):
    cfg, gain = CASES[case]
    return {"config": cfg.to_dict(), "weight_seed": WEIGHT_SEED, "gain": gain, **run}


def run_case(simulator, case, tmp_path, seeds, single_port_layers=(), **run):
    bench = build(simulator, case, tmp_path, single_port_layers)
    for seed in seeds:
        result = bench.run("eligo_sim.benches.layer_engine", params=params(case, **run), seed=seed)
        print(f"layer engine {case} on {simulator}, seed {seed}: {result.real_time_s:.2f} s")


# Every other sample is aborted at a random point (mid-events, mid-step, mid-scores); the rest must stay bit-exact.
SMALL_RUN = {"samples": 6, "steps": 6, "event_rate": 0.3, "idle": 0.3, "backpressure": 0.4, "inject_errors": True,
             "abort_every": 2, "abort_delay": 150}


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_engine_bench_tess(simulator, tmp_path):
    run_case(simulator, "tess-p4", tmp_path, (1, 2), **SMALL_RUN)


# Layer 0's weights single-ported, as in SPRAM on the iCEBreaker: cycles change, results do not (aborts included).
@pytest.mark.parametrize("simulator", SIMULATORS)
def test_engine_bench_single_port_weights(simulator, tmp_path):
    run_case(simulator, "tess-p4", tmp_path, (1,), single_port_layers=(0,), **SMALL_RUN)


def test_engine_bench_stllr_icarus(tmp_path):
    run_case("icarus", "stllr-p8", tmp_path, (1, 2), **SMALL_RUN)


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_engine_bench_back_projection(simulator, tmp_path):
    run_case(simulator, "stllr-bp-p4", tmp_path, (1, 2), **SMALL_RUN, max_decay=3)


# Update banks change when words are written, not one bit of what is written (aborts and back-pressure included).
@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("case", ["stllr-bp-p4-banks2", "tess-2layer-p4-banks4"])
def test_engine_bench_banks(simulator, case, tmp_path):
    run_case(simulator, case, tmp_path, (1,), **SMALL_RUN, max_decay=3)


def test_engine_bench_stllr_dfa_icarus(tmp_path):
    run_case("icarus", "stllr-dfa-p8", tmp_path, (1,), **SMALL_RUN)


# Deep networks: each hidden layer's spikes are the next one's events in the same step, each learns from its own
# signal; aborts, repeated inputs and back-pressure as for one layer.
@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("case", ["tess-2layer-p4", "dfa-3layer-p4"])
def test_engine_bench_deep(simulator, case, tmp_path):
    run_case(simulator, case, tmp_path, (1, 2), **SMALL_RUN)


# The full-size layer trains for 20 steps with each rule on Verilator (a build of about 8 minutes on two busy cores,
# one per rule: the rule is fixed in the hardware) and with TESS on Icarus (about 15 minutes of simulation).
@pytest.mark.slow
@pytest.mark.parametrize("simulator, case", [("verilator", "stllr-512x128"), ("verilator", "tess-512x128"),
                                             ("icarus", "tess-512x128"), ("verilator", "tess-512x128x128")])
def test_full_size_engine_bench(simulator, case, tmp_path):
    run_case(simulator, case, tmp_path, (1,), samples=1, steps=20, event_rate=0.05, idle=0.1, backpressure=0.2,
             checkpoint_every=10, weights_at_checkpoints=False)
