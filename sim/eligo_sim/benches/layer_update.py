"""Bench of a layer's weight update (``LayerUpdateWithBank``) against ``eligo.fixed.blocks.update_layer``.

The design is built with the model's initial weights for ``weight_seed``;
each seed then runs ``steps`` random learning steps (sparse traces and
factors, random idle cycles on the load ports and between steps) and
compares every weight and the visit count with the model at the end.
"""

from __future__ import annotations

import cocotb
import numpy as np
from amaranth.hdl import Const
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from eligo.config import AcceleratorConfig
from eligo.fixed.model import FixedModel, initial_weights
from eligo_hw.update import Layouts
from eligo_sim.benches.learning_stimulus import learning_step, model_update
from eligo_sim.clocking import start_clock_and_reset
from eligo_sim.runner import bench_params, bench_seed


def pack(layout, value) -> int:
    """The bits of a layout-shaped value, as the flat Verilog port carries them."""
    return Const.cast(layout.const(value)).value


async def write(dut, rng, prefix: str, address: int, bits: int) -> None:
    """One load-port write, after 0..2 random idle cycles."""
    for _ in range(int(rng.integers(0, 3)) * (rng.random() < 0.3)):
        await FallingEdge(dut.clk)
    getattr(dut, f"{prefix}_we").value = 1
    getattr(dut, f"{prefix}_addr").value = address
    getattr(dut, f"{prefix}_data").value = bits
    await FallingEdge(dut.clk)
    getattr(dut, f"{prefix}_we").value = 0


@cocotb.test()
async def weights_match_model_after_learning(dut):
    params = bench_params()
    cfg = AcceleratorConfig.from_dict(params["config"])
    layer, steps = int(params["layer"]), int(params["steps"])
    model = FixedModel(cfg, initial_weights(cfg, int(params["weight_seed"]), gain=float(params["gain"])))
    layouts = Layouts(cfg)
    groups, n_in = cfg.groups[layer], cfg.network.layer_sizes[layer]
    rng = np.random.default_rng(bench_seed())

    await start_clock_and_reset(dut, ("pre_we", "factor_we", "start", "weight_addr", "pre_addr", "factor_addr",
                                      "pre_data", "factor_data", "weight_we", "weight_wdata", "pre_read_addr",
                                      "decay"))
    # A single-port memory writes its initial weights after reset, busy meanwhile; a dual-ported one's busy is not
    # driven before the first start (Icarus shows X).
    while dut.busy.value.is_resolvable and int(dut.busy.value):
        await FallingEdge(dut.clk)

    words, lfsr_steps = model.words[layer], model.lfsr_steps[layer]
    busy_cycles = 0
    for _ in range(steps):
        step = learning_step(rng, cfg, layer)
        for address, word in enumerate(step.pre_words(cfg)):
            await write(dut, rng, "pre", address, pack(layouts.pre_word, word))
        for g, (causal, noncausal) in enumerate(step.padded_factors(cfg, groups)):
            await write(dut, rng, "factor", g, pack(layouts.factors, {"causal": causal, "noncausal": noncausal}))
        dut.decay.value = step.decay
        dut.start.value = 1
        await FallingEdge(dut.clk)
        dut.start.value = 0
        dut.decay.value = int(rng.integers(0, cfg.learning.max_lr_decay + 1))  # taken at start: the walk ignores it
        while int(dut.busy.value):
            await FallingEdge(dut.clk)
        words, lfsr_steps = model_update(words, step, cfg, layer, lfsr_steps)

    mismatches = []
    expected = words.view(-1, cfg.lanes).tolist()
    for address in range(n_in * groups):
        dut.weight_addr.value = address
        await RisingEdge(dut.clk)
        await ReadOnly()
        got = list(layouts.word.from_bits(int(dut.weight_data.value)))
        if [int(v) for v in got] != expected[address]:
            mismatches.append((address, [int(v) for v in got], expected[address]))
        await FallingEdge(dut.clk)
    assert not mismatches, f"{len(mismatches)} words differ; first (address, rtl, model): {mismatches[:3]}"
    visits = int(dut.visits.value)
    busy_cycles = int(dut.busy_cycles.value)
    assert visits == sum(lfsr_steps) > 0, f"RTL visited {visits} words, the model {sum(lfsr_steps)}"
    dut._log.info("steps=%d visits=%d busy cycles=%d (%.2f cycles/visit)", steps, visits, busy_cycles,
                  busy_cycles / visits)
