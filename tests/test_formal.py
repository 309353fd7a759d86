"""Formal properties of the RTL blocks, each with a broken twin that must FAIL.

Every harness drives the block's inputs with ``AnySeq`` (any value on every
step) and, with ``free_initial_state``, starts every register anywhere, so a
PASS of ``prove`` (k-induction) holds for all inputs from any state. Narrow
instances of the same parametrised blocks keep the solver fast and make
overflow reachable in a few steps. The broken twins are the same blocks with
one helper swapped for a wrapping one (``monkeypatch``) or one signal
overridden, so a check that passed vacuously would show here.
"""

from __future__ import annotations

import dataclasses

import pytest
from amaranth.asserts import AnySeq, Initial
from amaranth.hdl import Array, Assert, Assume, Cover, Elaboratable, Mux, Signal, signed, unsigned

import eligo_hw.lfsr
import eligo_hw.neuron
import eligo_hw.traces
import eligo_hw.update
import eligo_hw.words
from eligo.config import (AcceleratorConfig, LearningConfig, LfsrFormat, NeuronFormat, PsiTable, ReadoutFormat,
                          TraceFormat, signed_range)
from eligo.toolchain import ToolMissing
from eligo_hw.formal import after_first_step, check, harness_module
from eligo_hw.lfsr import LfsrBank
from eligo_hw.neuron import LIFNeuron
from eligo_hw.traces import PostTraceUnit, PreTraceUnit, decay_trace
from eligo_hw.update import UpdateLanes, factor_bits, lanes_latency
from eligo_hw.words import WordDecoder, delayed


def clamp(value, bits: int):
    lo, hi = signed_range(bits)
    return Mux(value > hi, hi, Mux(value < lo, lo, value))


def wrapping_add(value, bits: int):
    """The bug the saturating helpers exist to prevent: keep the low bits."""
    return value[:bits].as_signed()


def wrapping_add_up_to(value, increment, ceiling: int):
    return (value + increment)[:ceiling.bit_length()]


def wrapping_increment(m, counter, condition):
    with m.If(condition):
        m.d.sync += counter.eq(counter + 1)


class Harness(Elaboratable):
    """Wrap a ``build(m)`` function that adds the block and its properties."""

    def __init__(self, build):
        self.build = build

    def elaborate(self, platform):
        m = harness_module()
        self.build(m)
        return m


def assert_verdict(harness, path, expected: str, **options):
    result = check(Harness(harness), path, **options)
    assert result.status == expected, f"{result.mode}: expected {expected}, got {result.status}\n{result.log[-3000:]}"
    return result


# --- LIF neuron: the membrane never wraps -----------------------------------------------------------------------

NEURON_FORMATS = {
    "subtract": NeuronFormat(membrane_bits=6, input_bits=6, leak_shift=2, threshold=20, reset="subtract"),
    "zero": NeuronFormat(membrane_bits=6, input_bits=5, leak_shift=1, threshold=9, reset="zero"),
}


def neuron_properties(fmt: NeuronFormat):
    """On a step the membrane becomes exactly reset(clamp(leaked + current)), computed without any width limit.

    So a positive current never leaves it below the leaked value and a
    negative one never above: the membrane saturates, it never wraps.
    """
    def build(m):
        m.submodules.neuron = neuron = LIFNeuron(fmt)
        m.d.comb += [neuron.step.eq(AnySeq(1)), neuron.current.eq(AnySeq(signed(fmt.input_bits)))]
        v, current, step = (Signal(signed(fmt.membrane_bits)), Signal(signed(fmt.input_bits)), Signal())
        m.d.sync += [v.eq(neuron.membrane), current.eq(neuron.current), step.eq(neuron.step)]
        leaked = v - (v >> fmt.leak_shift)
        total = leaked + current
        integrated = clamp(total, fmt.membrane_bits)
        fired = integrated >= fmt.threshold
        reset_value = integrated - fmt.threshold if fmt.reset == "subtract" else 0
        with m.If(after_first_step()):
            with m.If(step):
                m.d.comb += [
                    Assert(neuron.spike == fired),
                    Assert(neuron.membrane == Mux(fired, reset_value, integrated)),
                ]
            with m.Else():
                m.d.comb += [Assert(neuron.membrane == v), Assert(~neuron.spike)]
        lo, hi = fmt.membrane_range
        m.d.comb += [
            Cover(neuron.spike),
            Cover(after_first_step() & step & (total > hi)),
            Cover(after_first_step() & step & (total < lo) & (neuron.membrane == lo)),
        ]
    return build


@pytest.mark.parametrize("reset", sorted(NEURON_FORMATS))
def test_neuron_membrane_saturates_from_any_state(reset, tmp_path):
    assert_verdict(neuron_properties(NEURON_FORMATS[reset]), tmp_path, "PASS", mode="prove", depth=3)


def test_neuron_saturation_states_reachable_from_reset(tmp_path):
    assert_verdict(neuron_properties(NEURON_FORMATS["subtract"]), tmp_path, "PASS", mode="cover", depth=6,
                   free_initial_state=False)


def test_neuron_with_wrapping_adder_fails(tmp_path, monkeypatch):
    monkeypatch.setattr(eligo_hw.neuron, "saturate", wrapping_add)
    assert_verdict(neuron_properties(NEURON_FORMATS["subtract"]), tmp_path, "FAIL", mode="prove", depth=3)


# --- Word decoder: no word lost, duplicated or invented; counters never wrap; valid holds until ready -----------

DECODER_INPUTS, DECODER_COUNTER_BITS = 5, 2


class DecoderTakingWhileStalled(WordDecoder):
    """Broken: takes every word, even when the command side is not ready (loses good words)."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        m.d.comb += self.words.ready.eq(1)
        return m


class DecoderDroppingValid(WordDecoder):
    """Broken: withdraws ``commands.valid`` every other cycle, while a word waits."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        phase = Signal()
        m.d.sync += phase.eq(~phase)
        with m.If(phase):
            m.d.comb += self.commands.valid.eq(0)
        return m


def decoder_properties(decoder_class=WordDecoder):
    """Stream rules of the decoder, with the input held by a well-behaved source (valid/payload stable until ready).

    - a command is offered only with an input word, carrying it unchanged, and
      sent only when that word is taken (no invented or duplicated word);
    - every word taken and not sent is counted on the next cycle and sets
      ``error`` (no silent loss), unless its counter is already full;
    - nothing else changes the counters but ``clear``; they never decrease (never wrap);
    - ``commands.valid`` never drops before ``commands.ready``.
    """
    full = (1 << DECODER_COUNTER_BITS) - 1

    def build(m):
        m.submodules.decoder = dec = decoder_class(DECODER_INPUTS, counter_bits=DECODER_COUNTER_BITS)
        m.d.comb += [dec.words.valid.eq(AnySeq(1)), dec.words.payload.eq(AnySeq(32)),
                     dec.commands.ready.eq(AnySeq(1)), dec.clear.eq(AnySeq(1))]
        taken = dec.words.valid & dec.words.ready
        sent = dec.commands.valid & dec.commands.ready
        past = {name: Signal.like(like, name=f"past_{name}") for name, like in [
            ("valid", dec.words.valid), ("ready", dec.words.ready), ("payload", dec.words.payload),
            ("cmd_valid", dec.commands.valid), ("cmd_ready", dec.commands.ready), ("clear", dec.clear),
            ("bad_opcodes", dec.bad_opcodes), ("bad_addresses", dec.bad_addresses)]}
        past_taken, past_sent = Signal(), Signal()
        m.d.sync += [past["valid"].eq(dec.words.valid), past["ready"].eq(dec.words.ready),
                     past["payload"].eq(dec.words.payload), past["cmd_valid"].eq(dec.commands.valid),
                     past["cmd_ready"].eq(dec.commands.ready), past["clear"].eq(dec.clear),
                     past["bad_opcodes"].eq(dec.bad_opcodes), past["bad_addresses"].eq(dec.bad_addresses),
                     past_taken.eq(taken), past_sent.eq(sent)]
        counted = dec.bad_opcodes + dec.bad_addresses
        past_counted = past["bad_opcodes"] + past["bad_addresses"]
        a_counter_full = (past["bad_opcodes"] == full) | (past["bad_addresses"] == full)
        m.d.comb += [
            Assert(~dec.commands.valid | dec.words.valid),
            Assert(~dec.commands.valid | (dec.commands.payload.as_value() == dec.words.payload)),
            Assert(~sent | taken),
        ]
        with m.If(after_first_step()):
            with m.If(past["valid"] & ~past["ready"]):
                m.d.comb += Assume(dec.words.valid & (dec.words.payload == past["payload"]))
            with m.If(past["cmd_valid"] & ~past["cmd_ready"]):
                m.d.comb += Assert(dec.commands.valid)
            with m.If(past["clear"]):
                m.d.comb += [Assert(counted == 0), Assert(~dec.error)]
            with m.Elif(past_taken & ~past_sent):
                m.d.comb += [Assert((counted == past_counted + 1) | ((counted == past_counted) & a_counter_full)),
                             Assert(dec.error)]
            with m.Else():
                m.d.comb += Assert(counted == past_counted)
            with m.If(~past["clear"]):
                m.d.comb += [Assert(dec.bad_opcodes >= past["bad_opcodes"]),
                             Assert(dec.bad_addresses >= past["bad_addresses"])]
        m.d.comb += [
            Cover(sent),
            Cover(dec.commands.valid & ~dec.commands.ready),
            Cover(taken & ~sent & (dec.words.payload[28:] == 1)),
            Cover(dec.bad_opcodes == full),
        ]
    return build


def test_decoder_stream_properties_from_any_state(tmp_path):
    assert_verdict(decoder_properties(), tmp_path, "PASS", mode="prove", depth=3)


def test_decoder_states_reachable_from_reset(tmp_path):
    assert_verdict(decoder_properties(), tmp_path, "PASS", mode="cover", depth=6, free_initial_state=False)


def test_decoder_with_wrapping_counters_fails(tmp_path, monkeypatch):
    monkeypatch.setattr(eligo_hw.words, "saturating_increment", wrapping_increment)
    assert_verdict(decoder_properties(), tmp_path, "FAIL", mode="prove", depth=3)


@pytest.mark.parametrize("broken", [DecoderTakingWhileStalled, DecoderDroppingValid], ids=lambda c: c.__name__)
def test_broken_decoders_fail(broken, tmp_path):
    assert_verdict(decoder_properties(broken), tmp_path, "FAIL", mode="prove", depth=3)


# --- LFSR bank: never the all-zero lock-up state ---------------------------------------------------------------

LFSR = LfsrFormat()
LFSR_LANES = 2


def lfsr_properties():
    """From any non-zero states, stepping or not, no lane ever reaches zero (where a Galois LFSR would stay)."""
    def build(m):
        m.submodules.bank = bank = LfsrBank(LFSR, LFSR_LANES)
        m.d.comb += bank.step.eq(AnySeq(1))
        with m.If(Initial()):
            m.d.comb += [Assume(bank.states[lane] != 0) for lane in range(LFSR_LANES)]
        m.d.comb += [Assert(bank.states[lane] != 0) for lane in range(LFSR_LANES)]
        m.d.comb += [Cover(bank.step & (bank.states[0] == 1)),
                     Cover(bank.step & (bank.states[1] == LFSR.taps))]
    return build


def test_lfsr_never_locks_up(tmp_path):
    assert_verdict(lfsr_properties(), tmp_path, "PASS", mode="prove", depth=2)


def test_lfsr_feedback_states_reachable(tmp_path):
    assert_verdict(lfsr_properties(), tmp_path, "PASS", mode="cover", depth=3)


def test_lfsr_with_misplaced_taps_fails(tmp_path, monkeypatch):
    monkeypatch.setattr(eligo_hw.lfsr, "galois_step",
                        lambda state, fmt: (state >> 1) ^ Mux(state[0], fmt.taps >> 1, 0))
    assert_verdict(lfsr_properties(), tmp_path, "FAIL", mode="prove", depth=2)


# --- Trace units: the saturating add never wraps ---------------------------------------------------------------

TRACE_FORMATS = {
    "shift": TraceFormat(bits=6, decay="shift", pre_decay=5, post_decay=4, pre_increment=16),
    "multiply": TraceFormat(bits=6, decay="multiply", decay_frac_bits=6, pre_decay=63, post_decay=60,
                            pre_increment=16),
}
TRACE_PSI = PsiTable(bits=5, values=(31, 20, 8), frac_bits=4)


def trace_properties(fmt: TraceFormat):
    """For every trace and input: updated == min(decay(t) + increment, max), and a spike/Psi never lowers it below
    the increment, no spike never raises it above t (the sum saturates, never wraps)."""
    code = fmt.pre_decay

    def build(m):
        m.submodules.pre = pre = PreTraceUnit(fmt, code)
        m.submodules.post = post = PostTraceUnit(fmt, TRACE_PSI)
        m.d.comb += [pre.trace.eq(AnySeq(fmt.bits)), pre.spike.eq(AnySeq(1)),
                     post.trace.eq(AnySeq(fmt.bits)), post.psi.eq(AnySeq(TRACE_PSI.bits))]
        ceiling = fmt.max_value
        pre_total = decay_trace(pre.trace, code, fmt) + Mux(pre.spike, fmt.pre_increment, 0)
        post_total = decay_trace(post.trace, fmt.post_decay, fmt) + post.psi
        m.d.comb += [
            Assert(pre.updated == Mux(pre_total > ceiling, ceiling, pre_total)),
            Assert(Mux(pre.spike, pre.updated >= fmt.pre_increment, pre.updated <= pre.trace)),
            Assert(post.updated == Mux(post_total > ceiling, ceiling, post_total)),
            Assert(post.updated >= post.psi),
            Cover(pre.spike & (pre_total > ceiling)),
            Cover(post_total > ceiling),
        ]
    return build


@pytest.mark.parametrize("decay", sorted(TRACE_FORMATS))
def test_traces_saturate_for_all_inputs(decay, tmp_path):
    assert_verdict(trace_properties(TRACE_FORMATS[decay]), tmp_path, "PASS", mode="bmc", depth=1)
    assert_verdict(trace_properties(TRACE_FORMATS[decay]), tmp_path, "PASS", mode="cover", depth=1)


def test_traces_with_wrapping_add_fail(tmp_path, monkeypatch):
    monkeypatch.setattr(eligo_hw.traces, "add_up_to", wrapping_add_up_to)
    assert_verdict(trace_properties(TRACE_FORMATS["shift"]), tmp_path, "FAIL", mode="bmc", depth=1)


# --- Weight update lanes: the new weight saturates, never wraps ------------------------------------------------

UPDATE_CFG = AcceleratorConfig(
    lanes=2, weight_bits=4,
    learning=LearningConfig(signal_bits=3, lr_shift=2, error_unit=3),
    traces=TraceFormat(bits=4, pre_increment=8),
    psi=PsiTable(bits=3, values=(7, 4, 1), frac_bits=0),
    lfsr=LfsrFormat(bits=4, taps=0xC, seed=1),
    readout=ReadoutFormat(pre_decay=2),
)
UPDATE_SHIFT = 2


def update_properties(cfg: AcceleratorConfig = UPDATE_CFG):
    """Every lane, ``UpdateLanes.latency`` cycles after its inputs: updated == clamp(w + ((causal q + noncausal x
    + r) >> s)) in unbounded arithmetic, s = shift + decay and r the noise that rounds at s (past the LFSR's width
    too), so a positive delta never lowers a weight and a negative one never raises it."""
    most, noise_bits = cfg.learning.max_lr_decay, cfg.lfsr.bits
    latency = lanes_latency(cfg)

    def build(m):
        m.submodules.lanes = lanes = UpdateLanes(cfg, UPDATE_SHIFT)
        # True from step ``latency`` on, when every stage holds inputs of this run (registers start arbitrary).
        filled = previous = after_first_step()
        for stage in range(latency - 1):
            started = Signal(name=f"started_{stage}")
            m.d.sync += started.eq(previous)
            filled, previous = filled & started, started
        bits = factor_bits(cfg)
        m.d.comb += [lanes.pre.trace.eq(AnySeq(cfg.traces.bits)), lanes.pre.spike.eq(AnySeq(1)),
                     lanes.decay.eq(AnySeq(len(lanes.decay)))]
        m.d.comb += Assume(lanes.decay <= most)
        for lane in range(cfg.lanes):
            m.d.comb += [lanes.word[lane].eq(AnySeq(signed(cfg.weight_bits))),
                         lanes.factors.causal[lane].eq(AnySeq(signed(bits))),
                         lanes.factors.noncausal[lane].eq(AnySeq(signed(bits))),
                         lanes.noise[lane].eq(AnySeq(unsigned(noise_bits)))]
            product = (lanes.factors.causal[lane] * lanes.pre.trace
                       + Mux(lanes.pre.spike, lanes.factors.noncausal[lane], 0))
            noise = lanes.noise[lane]
            deltas = [(product + (noise[:shift] if shift <= noise_bits else noise * 2 ** (shift - noise_bits)))
                      >> shift for shift in range(UPDATE_SHIFT, UPDATE_SHIFT + most + 1)]
            delta = Array(deltas)[lanes.decay]
            word = delayed(m, lanes.word[lane], latency, f"word{lane}")
            total = delayed(m, (lanes.word[lane] + delta).as_signed(), latency, f"total{lane}")
            held_delta = delayed(m, delta.as_signed(), latency, f"delta{lane}")
            updated = lanes.updated[lane]
            lo, hi = cfg.weight_range
            with m.If(filled):
                m.d.comb += [
                    Assert(updated == clamp(total, cfg.weight_bits)),
                    Assert(Mux(held_delta >= 0, updated >= word, updated <= word)),
                ]
            m.d.comb += [Cover(filled & (total > hi)), Cover(filled & (total < lo))]
    return build


@pytest.mark.parametrize("registered_products", [True, False])
def test_weight_update_saturates_for_all_inputs(tmp_path, registered_products):
    cfg = dataclasses.replace(UPDATE_CFG, registered_products=registered_products)
    depth = lanes_latency(cfg) + 1
    assert_verdict(update_properties(cfg), tmp_path, "PASS", mode="bmc", depth=depth)
    assert_verdict(update_properties(cfg), tmp_path, "PASS", mode="cover", depth=depth)


def test_weight_update_with_wrapping_add_fails(tmp_path, monkeypatch):
    monkeypatch.setattr(eligo_hw.update, "saturate", wrapping_add)
    assert_verdict(update_properties(), tmp_path, "FAIL", mode="bmc", depth=lanes_latency(UPDATE_CFG) + 1)


def test_weight_update_with_noise_cut_to_the_lfsr_fails(tmp_path, monkeypatch):
    # Rounding past the LFSR's width with its low bits only: the decayed updates lose their rounding.
    monkeypatch.setattr(eligo_hw.update, "rounding_noise", lambda noise, shift: noise[:shift])
    assert_verdict(update_properties(), tmp_path, "FAIL", mode="bmc", depth=lanes_latency(UPDATE_CFG) + 1)


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_missing_solver_tool_fails_loudly(tmp_path, monkeypatch):
    monkeypatch.setenv("SBY", "no-such-sby")
    with pytest.raises(ToolMissing, match="no-such-sby"):
        check(Harness(lfsr_properties()), tmp_path)
