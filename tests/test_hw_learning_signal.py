"""Softmax error unit and square-wave projection against ``softmax_error`` and ``project_signal``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from amaranth.sim import Simulator

from eligo.config import AcceleratorConfig, LearningConfig, NetworkShape
from eligo.fixed.blocks import project_signal, softmax_error, square_wave
from eligo_hw.learning_signal import Projection, SoftmaxError, logit_bits

CONFIGS = {
    "default": AcceleratorConfig(),
    "narrow-tess": AcceleratorConfig(
        network=NetworkShape(n_inputs=8, hidden=(24,), n_classes=4), lanes=8,
        learning=LearningConfig(rule="tess", signal_bits=6, error_unit=31, readout_softmax_shift=1,
                                tess_softmax_shift=0, square_half_period_base=3, square_half_period_step=2)),
}


@pytest.mark.parametrize("name", CONFIGS)
def test_softmax_error_matches_model(name):
    cfg = CONFIGS[name]
    classes, learning = cfg.network.n_classes, cfg.learning
    rng = np.random.default_rng(7)
    lo, hi = -(1 << (logit_bits(cfg) - 1)), (1 << (logit_bits(cfg) - 1)) - 1
    cases = []
    for trial in range(40):
        spread = [4, 60, 400, hi][trial % 4]  # near ties, the table's span, past it, the rails
        logits = np.clip(rng.integers(-spread, spread + 1, classes) + rng.integers(lo // 2, hi // 2), lo, hi)
        cases.append((logits.tolist(), int(rng.integers(0, classes)), trial % 2))
    cases.append(([hi] * classes, 0, 0))
    cases.append(([lo] + [hi] * (classes - 1), classes - 1, 1))
    dut = SoftmaxError(cfg)
    got = []

    async def bench(ctx):
        for logits, label, tess in cases:
            ctx.set(dut.logits, logits)
            ctx.set(dut.label, label)
            ctx.set(dut.tess, tess)
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            await ctx.tick().until(~dut.busy)
            got.append([int(v) for v in ctx.get(dut.errors)])

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    for (logits, label, tess), errors in zip(cases, got):
        shift = learning.tess_softmax_shift if tess else learning.readout_softmax_shift
        expected = softmax_error(torch.tensor(logits), label, shift, learning)
        assert errors == expected.tolist(), f"logits {logits} label {label}"
        assert sum(errors) in range(-classes, classes + 1)


@pytest.mark.parametrize("name", CONFIGS)
def test_projection_matches_square_wave_model(name):
    cfg = CONFIGS[name]
    n = cfg.network.hidden[0]
    classes, lo, hi = cfg.network.n_classes, *cfg.learning.signal_range
    rng = np.random.default_rng(3)
    vectors = [rng.integers(lo, hi + 1, classes).tolist() for _ in range(6)] + [[hi] * classes, [lo] * classes]
    dut = Projection(cfg, n)
    got = []

    async def bench(ctx):
        for errors in vectors:
            ctx.set(dut.errors, errors)
            row = []
            for g in range(n // cfg.lanes):
                ctx.set(dut.group, g)
                row += [int(v) for v in ctx.get(dut.signals)]
            got.append(row)

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    projection = square_wave(classes, n, cfg.learning)
    for errors, row in zip(vectors, got):
        assert row == project_signal(projection, torch.tensor(errors), cfg.learning).tolist()
    assert any(v in (lo, hi) for row in got for v in row), "saturation must be exercised"
