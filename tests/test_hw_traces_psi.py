"""Trace units and the Psi ROM against the model, exhaustively over every input value they can see."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from amaranth.sim import Simulator

from eligo.config import NeuronFormat, PsiTable, TraceFormat, triangle_psi
from eligo.fixed.blocks import decay_trace, psi_lookup, update_post_trace, update_pre_trace
from eligo_hw.psi import PsiLookup
from eligo_hw.traces import PostTraceUnit, PreTraceUnit

TRACE_FORMATS = {
    "shift-default": TraceFormat(),
    "shift-k0-k8": TraceFormat(bits=8, pre_decay=0, post_decay=8, pre_increment=255),
    "shift-narrow": TraceFormat(bits=4, pre_decay=1, post_decay=3, pre_increment=5),
    "multiply": TraceFormat(decay="multiply", pre_decay=192, post_decay=51, decay_frac_bits=8),
    "multiply-wide": TraceFormat(bits=10, decay="multiply", pre_decay=1000, post_decay=0, decay_frac_bits=10,
                                 pre_increment=700),
}
PSI_TABLE = PsiTable()


def run_comb(dut, drive_and_read):
    """Run a combinational check in a testbench (which sees settled values after each set)."""
    sim = Simulator(dut)
    sim.add_testbench(drive_and_read)
    sim.run()


@pytest.mark.parametrize("name", TRACE_FORMATS)
def test_pre_trace_unit_matches_model_for_every_trace_and_spike(name):
    fmt = TRACE_FORMATS[name]
    dut = PreTraceUnit(fmt, fmt.pre_decay)
    traces = torch.arange(fmt.max_value + 1).repeat(2)
    spikes = torch.repeat_interleave(torch.tensor([0, 1]), fmt.max_value + 1)
    got = []

    async def bench(ctx):
        for trace, spike in zip(traces.tolist(), spikes.tolist()):
            ctx.set(dut.trace, trace)
            ctx.set(dut.spike, spike)
            got.append(ctx.get(dut.updated))

    run_comb(dut, bench)
    expected = update_pre_trace(traces, spikes, fmt.pre_decay, fmt)
    assert got == expected.tolist()
    if int(decay_trace(torch.tensor(fmt.max_value), fmt.pre_decay, fmt)) + fmt.pre_increment > fmt.max_value:
        assert (expected == fmt.max_value).any(), "the saturation ceiling must be reached where it can be"


@pytest.mark.parametrize("name", TRACE_FORMATS)
def test_post_trace_unit_matches_model_for_every_trace_and_psi(name):
    fmt = TRACE_FORMATS[name]
    dut = PostTraceUnit(fmt, PSI_TABLE)
    psi_values = torch.arange(1 << PSI_TABLE.bits)
    traces = torch.arange(fmt.max_value + 1).repeat_interleave(len(psi_values))
    psis = psi_values.repeat(fmt.max_value + 1)
    got = []

    async def bench(ctx):
        for trace, psi in zip(traces.tolist(), psis.tolist()):
            ctx.set(dut.trace, trace)
            ctx.set(dut.psi, psi)
            got.append(ctx.get(dut.updated))

    run_comb(dut, bench)
    assert got == update_post_trace(traces, psis, fmt).tolist()


PSI_CASES = {
    "default": (NeuronFormat(), PsiTable()),
    "narrow-membrane": (NeuronFormat(membrane_bits=8, input_bits=8, threshold=100),
                        PsiTable(index_shift=2, values=triangle_psi(entries=16, frac_bits=4), bits=4, frac_bits=4)),
    "no-shift-one-entry": (NeuronFormat(membrane_bits=10, threshold=511), PsiTable(index_shift=0, values=(31,))),
}


@pytest.mark.parametrize("name", PSI_CASES)
def test_psi_lookup_matches_model(name):
    neuron, table = PSI_CASES[name]
    dut = PsiLookup(neuron, table)
    lo, hi = neuron.membrane_range
    rng = np.random.default_rng(0)
    around = np.arange(neuron.threshold - table.support - 4, neuron.threshold + table.support + 5)
    membranes = torch.tensor(np.clip(np.concatenate([[lo, hi], around, rng.integers(lo, hi + 1, 300)]), lo, hi))
    got = []

    async def bench(ctx):
        for v in membranes.tolist():
            ctx.set(dut.integrated, v)
            got.append(ctx.get(dut.psi))

    run_comb(dut, bench)
    expected = psi_lookup(membranes, neuron.threshold, table)
    assert got == expected.tolist()
    assert set(expected.tolist()) >= set(table.values) | {0}, "every ROM entry and the zero tail must be seen"
