"""Softmax error unit, square-wave projection and back-projection against ``softmax_error``, ``project_signal``
and ``back_project``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from amaranth.hdl import Elaboratable, Module, signed
from amaranth.lib import data
from amaranth.lib.memory import Memory
from amaranth.sim import Simulator

from eligo.config import AcceleratorConfig, LearningConfig, NetworkShape, NeuronFormat
from eligo.fixed.blocks import back_project, project_signal, softmax_error, square_wave
from eligo_hw.learning_signal import BackProjection, Projection, SoftmaxError, logit_bits

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


class _ReadoutMemory(Elaboratable):
    """A back-projection reading a readout weight memory [n_hidden * G1 words of P weights], as the engine's."""

    def __init__(self, cfg: AcceleratorConfig, words: list[list[int]]):
        self.unit = BackProjection(cfg)
        self.layout = data.ArrayLayout(signed(cfg.weight_bits), cfg.lanes)
        self.words = words

    def elaborate(self, platform):
        m = Module()
        m.submodules.unit = unit = self.unit
        m.submodules.memory = memory = Memory(shape=self.layout, depth=len(self.words), init=self.words)
        read = memory.read_port()
        m.d.comb += [read.addr.eq(unit.weight_addr), unit.weight_data.eq(read.data)]
        return m


BACK_PROJECTION_CONFIGS = {
    "default": AcceleratorConfig(),
    # Two readout words per hidden neuron (8 classes on 4 lanes), a smaller threshold (shift 5).
    "two-readout-words": AcceleratorConfig(network=NetworkShape(n_inputs=12, hidden=(8,), n_classes=8), lanes=4,
                                           neuron=NeuronFormat(threshold=32)),
    # One lane, as on the UP5K: one neuron's two classes in one word each.
    "one-lane": AcceleratorConfig(network=NetworkShape(n_inputs=32, hidden=(8,), n_classes=2), lanes=1),
}


@pytest.mark.parametrize("name", BACK_PROJECTION_CONFIGS)
def test_back_projection_matches_model(name):
    cfg = BACK_PROJECTION_CONFIGS[name]
    rng = np.random.default_rng(3)
    n_hidden, classes, lanes = cfg.network.hidden[0], cfg.network.n_classes, cfg.lanes
    width = cfg.groups[1] * lanes
    lo, hi = cfg.weight_range
    weights = rng.integers(lo, hi + 1, (n_hidden, classes))
    weights[0] = hi  # a row at the rail: its signal saturates for an error of one sign
    padded = np.zeros((n_hidden, width), dtype=np.int64)
    padded[:, :classes] = weights
    dut = _ReadoutMemory(cfg, padded.reshape(-1, lanes).tolist())
    unit = dut.unit
    unit_bound = cfg.learning.error_unit
    errors = [rng.integers(-unit_bound, unit_bound + 1, classes) for _ in range(3)] + [np.full(classes, unit_bound)]
    got = []

    async def bench(ctx):
        for error in errors:
            ctx.set(unit.errors, error.tolist())
            ctx.set(unit.start, 1)
            await ctx.tick()
            ctx.set(unit.start, 0)
            busy_cycles = 0
            while ctx.get(unit.busy):
                busy_cycles += 1
                await ctx.tick()
            assert busy_cycles == n_hidden * cfg.groups[1] + 6
            signals = []
            for group in range(cfg.groups[0]):
                ctx.set(unit.group, group)
                await ctx.tick()
                signals += [int(v) for v in ctx.get(unit.signals)]
            got.append(signals[:n_hidden])

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    for error, signals in zip(errors, got):
        assert signals == back_project(weights, error, cfg).tolist()
    rail = cfg.learning.signal_range[1]
    assert got[-1][0] == rail, "the rail row must saturate, not wrap"
