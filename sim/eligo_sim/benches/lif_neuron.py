"""Bench of the single LIF neuron against ``eligo.fixed.lif.lif_step``.

Random step strobes and currents (mostly near threshold, sometimes at the
rails to force saturation) for ``cycles`` cycles; membrane and spike are
compared every cycle.
"""

from __future__ import annotations

import cocotb
import numpy as np
import torch
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from eligo.config import NeuronFormat
from eligo.fixed.arith import shift_right
from eligo.fixed.lif import lif_step
from eligo_sim.clocking import start_clock_and_reset
from eligo_sim.runner import bench_params, bench_seed
from eligo_sim.stimulus import neuron_currents


@cocotb.test()
async def membrane_and_spikes_match_model(dut):
    params = bench_params()
    fmt = NeuronFormat(**params["neuron"])
    cycles = int(params["cycles"])
    rng = np.random.default_rng(bench_seed())
    steps = rng.random(cycles) < 0.8
    currents = neuron_currents(rng, fmt, cycles)

    await start_clock_and_reset(dut, ("step", "current"))

    membrane = torch.tensor(0)
    spikes_seen = saturations = 0
    lo, hi = fmt.membrane_range
    for cycle in range(cycles):
        # Drive on the falling edge; the neuron samples on the next rising edge.
        await FallingEdge(dut.clk)
        dut.step.value = int(steps[cycle])
        dut.current.value = int(currents[cycle])
        await RisingEdge(dut.clk)
        await ReadOnly()
        spike = 0
        if steps[cycle]:
            unsaturated = int(membrane - shift_right(membrane, fmt.leak_shift)) + int(currents[cycle])
            saturations += not lo <= unsaturated <= hi
            membrane, spike_t = lif_step(membrane, torch.tensor(int(currents[cycle])), fmt)
            spike = int(spike_t)
        got_v = dut.membrane.value.to_signed()
        got_s = int(dut.spike.value)
        assert got_v == int(membrane), f"cycle {cycle}: membrane {got_v} != model {int(membrane)}"
        assert got_s == spike, f"cycle {cycle}: spike {got_s} != model {spike}"
        spikes_seen += spike
    # The stimulus must exercise firing and both rails, or the comparison proves little.
    assert spikes_seen > cycles // 20, f"only {spikes_seen} spikes in {cycles} cycles"
    assert saturations > 0, "no step saturated the membrane"
    dut._log.info("cycles=%d spikes=%d saturating steps=%d", cycles, spikes_seen, saturations)
