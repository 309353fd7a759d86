"""P-lane neuron core against the model's layer step: integrated membranes, spikes, Psi, traces, scores."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from amaranth.sim import Simulator

from eligo.config import AcceleratorConfig, LearningConfig, NetworkShape, NeuronFormat
from eligo.fixed.model import FixedModel, initial_weights
from eligo_hw.neuron_core import NeuronCore

CONFIGS = {
    # A threshold that is not a power of two (so the square-wave signal: the BP one divides by a shift).
    "p8-two-groups": AcceleratorConfig(network=NetworkShape(n_inputs=20, hidden=(16,), n_classes=8), lanes=8,
                                       neuron=NeuronFormat(membrane_bits=10, input_bits=9, leak_shift=2, threshold=60),
                                       weight_bits=6, learning=LearningConfig(rule="stllr_dfa", alpha_post=1)),
    "p4-zero-reset": AcceleratorConfig(network=NetworkShape(n_inputs=9, hidden=(12,), n_classes=4), lanes=4,
                                       neuron=NeuronFormat(reset="zero", leak_shift=1)),
}
STEPS = 12


def model_steps(model: FixedModel, layer: int, inputs: torch.Tensor, clear_at: set[int]):
    """Per step: (integrated, spikes, membranes, post traces or scores) from the model's own layer step."""
    readout = layer == len(model.cfg.network.hidden)
    expected = []
    for t, x in enumerate(inputs):
        if t == 0 or t in clear_at:
            state = model.new_state(1)
        computed = model.layer_step(state, layer, x[None].numpy())
        integrated = computed.integrated[0].tolist()
        if readout:
            expected.append((integrated, [0] * len(integrated), state.logits[0].tolist(), state.scores[0].tolist()))
        else:
            expected.append((integrated, computed.spikes[0].tolist(), state.membranes[layer][0].tolist(),
                             state.post_traces[layer][0].tolist()))
    return expected


@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize("layer", [0, 1], ids=["hidden", "readout"])
def test_neuron_core_matches_model(name, layer):
    cfg = CONFIGS[name]
    rng = np.random.default_rng(layer)
    model = FixedModel(cfg, initial_weights(cfg, 3, gain=3.0))
    words = model.words[layer].reshape(-1, cfg.lanes).tolist()
    weights = model.weights(layer)
    n_in, n_out = weights.shape
    groups = cfg.groups[layer]
    inputs = torch.tensor(rng.random((STEPS, n_in)) < 0.4, dtype=torch.int64)
    clear_at = {STEPS // 2}
    dut = NeuronCore(cfg, layer)
    got = []

    async def weight_memory(ctx):
        async for _, _, address in ctx.tick().sample(dut.weight_addr):
            ctx.set(dut.weight_data, words[address])

    async def bench(ctx):
        for t, x in enumerate(inputs):
            if t in clear_at:
                ctx.set(dut.clear, 1)
                await ctx.tick()
                ctx.set(dut.clear, 0)
                await ctx.tick().until(~dut.busy)
            for j in rng.permutation(np.flatnonzero(x.numpy())):
                for _ in range(int(rng.integers(0, 2))):
                    await ctx.tick()
                ctx.set(dut.events.valid, 1)
                ctx.set(dut.events.payload, int(j))
                await ctx.tick().until(dut.events.ready)
                ctx.set(dut.events.valid, 0)
            await ctx.tick().until(~dut.busy)
            ctx.set(dut.fire, 1)
            await ctx.tick()
            ctx.set(dut.fire, 0)
            results = {}
            while len(results) < groups:
                if ctx.get(dut.result_valid):
                    result = ctx.get(dut.result)
                    results[result.group] = ([int(v) for v in result.integrated],
                                             [(result.spikes >> lane) & 1 for lane in range(cfg.lanes)])
                await ctx.tick()
            await ctx.tick().until(~dut.busy)
            state = []
            for g in range(groups):
                ctx.set(dut.probe_addr, g)
                await ctx.tick()
                other = dut.probe_scores if layer == 1 else dut.probe_post
                state.append(([int(v) for v in ctx.get(dut.probe_membranes)], [int(v) for v in ctx.get(other)]))
            flat = lambda part, index: sum((part[g][index] for g in range(groups)), [])[:n_out]  # noqa: E731
            got.append((flat(results, 0), flat(results, 1), flat(state, 0), flat(state, 1)))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_process(weight_memory)
    sim.add_testbench(bench)
    sim.run()

    expected = model_steps(model, layer, inputs, clear_at)
    for t, (rtl, ref) in enumerate(zip(got, expected)):
        for what, a, b in zip(("integrated", "spikes", "membranes", "post/scores"), rtl, ref):
            assert a == b, f"step {t}: {what} differ"
    if layer == 0:
        assert sum(sum(step[1]) for step in got) > 0, "the hidden layer must fire"
