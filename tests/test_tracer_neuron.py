"""Tracer bullet: one LIF neuron through the model, Amaranth's simulator, cocotb on both simulators."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from amaranth.sim import Simulator

from eligo.config import NeuronFormat
from eligo.fixed.lif import lif_step
from eligo_hw.export import write_verilog
from eligo_hw.neuron import LIFNeuron
from eligo_sim.runner import SIMULATORS, build_bench
from eligo_sim.stimulus import neuron_currents

FORMATS = {
    "default": NeuronFormat(),
    "narrow-zero-reset": NeuronFormat(membrane_bits=8, input_bits=8, leak_shift=1, threshold=20, reset="zero"),
    "wide-input": NeuronFormat(membrane_bits=12, input_bits=16, leak_shift=5, threshold=1000),
}


def test_model_hand_computed_step():
    fmt = NeuronFormat(membrane_bits=8, input_bits=8, leak_shift=2, threshold=50)
    # 40 - (40 >> 2) + 30 = 60 >= 50: spike, subtractive reset leaves 10.
    v, s = lif_step(torch.tensor([40]), torch.tensor([30]), fmt)
    assert v.tolist() == [10] and s.tolist() == [1]
    # -7 >> 2 = -2 (floor), so -7 + 2 - 1 = -6: the leak moves negative membranes toward zero.
    v, s = lif_step(torch.tensor([-7]), torch.tensor([-1]), fmt)
    assert v.tolist() == [-6] and s.tolist() == [0]
    # Saturation at the negative rail, never wrapping.
    v, s = lif_step(torch.tensor([-128]), torch.tensor([-128]), fmt)
    assert v.tolist() == [-128] and s.tolist() == [0]
    # Positive rail: 127 saturates then fires and resets to 127 - 50.
    v, s = lif_step(torch.tensor([120]), torch.tensor([127]), fmt)
    assert v.tolist() == [77] and s.tolist() == [1]


def test_model_zero_reset():
    fmt = dataclasses.replace(NeuronFormat(membrane_bits=8, input_bits=8, leak_shift=2, threshold=50), reset="zero")
    v, s = lif_step(torch.tensor([40]), torch.tensor([30]), fmt)
    assert v.tolist() == [0] and s.tolist() == [1]


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize("seed", [1, 2])
def test_amaranth_sim_matches_model(name, seed):
    fmt = FORMATS[name]
    dut = LIFNeuron(fmt)
    rng = np.random.default_rng(seed)
    currents = neuron_currents(rng, fmt, 2000)
    steps = rng.random(2000) < 0.8
    mismatches = []

    async def bench(ctx):
        membrane = torch.tensor(0)
        for cycle, (step, current) in enumerate(zip(steps, currents)):
            ctx.set(dut.step, int(step))
            ctx.set(dut.current, int(current))
            await ctx.tick()
            spike = 0
            if step:
                membrane, spike_t = lif_step(membrane, torch.tensor(int(current)), fmt)
                spike = int(spike_t)
            got = (ctx.get(dut.membrane), ctx.get(dut.spike))
            if got != (int(membrane), spike):
                mismatches.append((cycle, got, (int(membrane), spike)))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert not mismatches, f"first mismatches (cycle, rtl, model): {mismatches[:5]}"


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("name", FORMATS)
def test_cocotb_matches_model(simulator, name, tmp_path):
    fmt = FORMATS[name]
    source = write_verilog(LIFNeuron(fmt), "lif_neuron", tmp_path / "lif_neuron.v")
    bench = build_bench(simulator=simulator, sources=[source], toplevel="lif_neuron", build_dir=tmp_path / simulator)
    for seed in (11, 12, 13):
        result = bench.run("eligo_sim.benches.lif_neuron",
                           params={"neuron": dataclasses.asdict(fmt), "cycles": 3000}, seed=seed)
        assert result.tests == 1 and result.failed == 0
        print(f"tracer bullet on {simulator}, seed {seed}: {result.real_time_s:.2f} s for 3000 cycles")
