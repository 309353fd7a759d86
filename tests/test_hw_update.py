"""Weight-update datapath: every weight of a layer after several learning steps, against ``update_layer``."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from amaranth.hdl import Fragment, Instance, signed
from amaranth.lib import data
from amaranth.sim import Simulator

from eligo.config import AcceleratorConfig, LearningConfig, NetworkShape
from eligo.fixed.model import FixedModel, initial_weights
from eligo_hw.update import LayerUpdateWithBank, Layouts, SinglePortMemory, power_up_garbage
from eligo_sim.benches.learning_stimulus import learning_step, model_update

CONFIGS = {
    # Narrow weights and a small shift: updates hit both rails within a few steps.
    "narrow-8-lanes": AcceleratorConfig(network=NetworkShape(n_inputs=10, hidden=(24,), n_classes=3), lanes=8,
                                        weight_bits=4, learning=LearningConfig(lr_shift=1, alpha_post=1)),
    "default-widths-4-lanes": AcceleratorConfig(network=NetworkShape(n_inputs=8, hidden=(12,), n_classes=2),
                                                lanes=4, learning=LearningConfig(lr_shift=0, alpha_post=-1)),
    # A decay reaching past the 16-bit LFSR (hidden shifts 10..25): the noise moves up into the lost bits.
    "decay-past-lfsr": AcceleratorConfig(network=NetworkShape(n_inputs=8, hidden=(8,), n_classes=2), lanes=4,
                                         learning=LearningConfig(lr_shift=4, max_lr_decay=15, alpha_post=1)),
    # The lanes with their product registers: one cycle more per walk, the same words.
    "registered-products": AcceleratorConfig(network=NetworkShape(n_inputs=10, hidden=(24,), n_classes=3), lanes=8,
                                             weight_bits=4, registered_products=True,
                                             learning=LearningConfig(lr_shift=1, alpha_post=1)),
    # Two update banks (even and odd rows, 11 rows: the odd bank one row short), each with its own lanes and LFSRs.
    "two-banks": AcceleratorConfig(network=NetworkShape(n_inputs=11, hidden=(16,), n_classes=3), lanes=8, banks=2,
                                   weight_bits=5, learning=LearningConfig(lr_shift=1, alpha_post=1)),
    # As many banks as lanes: every bank takes one row of each pre-trace word.
    "four-banks-4-lanes": AcceleratorConfig(network=NetworkShape(n_inputs=9, hidden=(8,), n_classes=2), lanes=4,
                                            banks=4, learning=LearningConfig(lr_shift=0, alpha_post=-1)),
}
STEPS = 4


def run_walks(cfg: AcceleratorConfig, layer: int, words, steps, rng, single_port: bool = False):
    """Load and walk ``steps`` on the layer's update; the words read back, the visits and the busy cycles."""
    dut = LayerUpdateWithBank(cfg, layer, words.clone(), single_port=single_port)
    groups, n_in = cfg.groups[layer], cfg.network.layer_sizes[layer]
    read_back = []

    async def bench(ctx):
        await ctx.tick().until(~dut.busy)  # a single-port memory writes its initial words first
        for step in steps:
            for address, word in enumerate(step.pre_words(cfg)):
                ctx.set(dut.pre_we, 1)
                ctx.set(dut.pre_addr, address)
                ctx.set(dut.pre_data, word)
                await ctx.tick()
            ctx.set(dut.pre_we, 0)
            for g, (causal, noncausal) in enumerate(step.padded_factors(cfg, groups)):
                ctx.set(dut.factor_we, 1)
                ctx.set(dut.factor_addr, g)
                ctx.set(dut.factor_data, {"causal": causal, "noncausal": noncausal})
                await ctx.tick()
            ctx.set(dut.factor_we, 0)
            ctx.set(dut.decay, step.decay)
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            await ctx.tick().until(~dut.busy)
            for _ in range(int(rng.integers(0, 3))):  # idle cycles between steps
                await ctx.tick()
        busy_before_read = ctx.get(dut.busy_cycles)
        for address in range(n_in * groups):
            ctx.set(dut.weight_addr, address)
            await ctx.tick()
            read_back.append([int(v) for v in ctx.get(dut.weight_data)])
        read_back.extend([ctx.get(dut.visits), busy_before_read])

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    busy_cycles, visits = read_back.pop(), read_back.pop()
    return read_back, visits, busy_cycles


@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize("layer", [0, 1], ids=["hidden", "readout"])
@pytest.mark.parametrize("seed", [0, 1])
def test_layer_update_matches_model(name, layer, seed):
    cfg = CONFIGS[name]
    model = FixedModel(cfg, initial_weights(cfg, seed, gain=4.0))
    rng = np.random.default_rng(seed)
    steps = [learning_step(rng, cfg, layer) for _ in range(STEPS)]
    read_back, visits, _ = run_walks(cfg, layer, model.words[layer], steps, rng)

    words, lfsr_steps = model.words[layer], model.lfsr_steps[layer]
    for step in steps:
        words, lfsr_steps = model_update(words, step, cfg, layer, lfsr_steps)
    assert visits == sum(lfsr_steps) > 0
    assert read_back == words.view(-1, cfg.lanes).tolist()
    if name == "narrow-8-lanes":
        lo, hi = cfg.weight_range
        assert (words == lo).any() and (words == hi).any(), "both weight rails must be reached"


@pytest.mark.parametrize("banks", [2, 4])
@pytest.mark.parametrize("single_port", [False, True], ids=["dual-port", "single-port"])
def test_banks_walk_the_same_visits_in_fewer_cycles(banks, single_port):
    # 64 rows of 4 groups, all learning: B banks take B words a cycle (with one port, B words per two cycles).
    one = AcceleratorConfig(network=NetworkShape(n_inputs=64, hidden=(16,), n_classes=2), lanes=4,
                            learning=LearningConfig(lr_shift=2, alpha_post=1))
    banked = dataclasses.replace(one, banks=banks)
    words = FixedModel(one, initial_weights(one, 0, gain=4.0)).words[0]
    rng = np.random.default_rng(banks)
    steps = [learning_step(rng, one, 0) for _ in range(STEPS)]
    for step in steps:  # every row and every group learns: the words split evenly over the banks
        step.pre_trace[step.pre_trace == 0] = 1
        step.causal[step.causal == 0] = 1
    runs = {cfg.banks: run_walks(cfg, 0, words, steps, np.random.default_rng(0), single_port)
            for cfg in (one, banked)}
    expected_words, lfsr_steps = words, banked.banks * (0,)
    for step in steps:
        expected_words, lfsr_steps = model_update(expected_words, step, banked, 0, lfsr_steps)
    assert runs[banks][0] == expected_words.view(-1, banked.lanes).tolist()
    assert runs[banks][1] == runs[1][1] == sum(lfsr_steps)
    assert runs[banks][0] != runs[1][0], "each bank rounds with its own LFSRs: the noise, so the weights, differ"
    # Each walk costs a few cycles of pipeline beyond its words: B banks do the words B times faster.
    assert runs[banks][2] <= runs[1][2] / banks + 8 * STEPS, (runs[banks][2], runs[1][2])


class _Ice40:
    """Just enough of an iCE40 platform for elaboration: its family."""

    family = "iCE40"


def test_single_port_weights_become_spram_on_ice40():
    # 5 lanes of 8 bits: 40 bits wide, three SPRAMs side by side (the last one 8 bits used).
    layout = data.ArrayLayout(signed(8), 5)
    memory = SinglePortMemory(layout, 4096, [[0] * 5] * 4096)
    fragment = Fragment.get(memory, _Ice40())
    sprams = [sub for sub, _, _ in fragment.subfragments if isinstance(sub, Instance)]
    assert [spram.type for spram in sprams] == ["SB_SPRAM256KA"] * 3
    with pytest.raises(ValueError, match="cannot be initialised"):
        Fragment.get(SinglePortMemory(layout, 16, [[1, 0, 0, 0, 0]] * 16), _Ice40())
    with pytest.raises(ValueError, match="deeper than an SPRAM"):
        Fragment.get(SinglePortMemory(layout, 20000, [[0] * 5] * 20000), _Ice40())


def test_single_port_memory_writes_initial_weights_after_reset():
    # Simulated power-up garbage is read back during the walk, the initial weights after it; busy is high for
    # exactly the walk; a host write offered during it is held until busy falls, then lands.
    cfg = CONFIGS["narrow-8-lanes"]
    layer, words = 0, FixedModel(cfg, initial_weights(cfg, 0, gain=4.0)).words[0]
    dut = LayerUpdateWithBank(cfg, layer, words.clone(), single_port=True)
    depth = cfg.network.layer_sizes[layer] * cfg.groups[layer]
    initial = words.view(-1, cfg.lanes).tolist()
    garbage = power_up_garbage(Layouts(cfg).word, depth)
    host_address, host_word = 3, [-1, 2, -3, 4, -5, 6, -7, 7]
    seen = {"during": [], "busy_cycles": 0, "after": []}

    async def bench(ctx):
        ctx.set(dut.weight_addr, host_address)
        ctx.set(dut.weight_wdata, host_word)
        while ctx.get(dut.busy):
            seen["busy_cycles"] += 1
            seen["during"].append([int(v) for v in ctx.get(dut.weight_data)])
            ctx.set(dut.weight_we, seen["busy_cycles"] == 5 or ctx.get(dut.weight_we))  # held once offered
            await ctx.tick()
        await ctx.tick()  # the held write lands in the first cycle with busy low
        ctx.set(dut.weight_we, 0)
        for address in range(depth):
            ctx.set(dut.weight_addr, address)
            await ctx.tick()
            seen["after"].append([int(v) for v in ctx.get(dut.weight_data)])

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()

    assert seen["busy_cycles"] == depth
    # The port reads the address being written, before the write: the garbage of the previous cycle's address.
    assert seen["during"][1:] == garbage[:depth - 1]
    assert garbage != initial
    expected = [list(word) for word in initial]
    expected[host_address] = host_word
    assert seen["after"] == expected
