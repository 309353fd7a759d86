"""Layer engine: one hidden layer and the readout, trained on chip one time step at a time.

It takes the decoded word stream (``WordDecoder.commands``) and runs the
model's step (``docs/fixed-point.md``, "One time step"; ``docs/architecture.md``
for the phases and their cycle costs):

* RUN: EVENT j is integrated into the hidden core (``groups`` cycles);
  LABEL arms learning for the sample; TICK closes the step; END emits the
  class scores and clears the per-sample state.
* FIRE: the hidden core walks its groups; spikes are collected, TESS's z
  accumulates, the layer-0 pre-trace scan starts.
* READOUT: each hidden spike leaves on ``output`` (back-pressure stalls it)
  and is integrated into the readout; the readout fires, its pre-trace scan runs.
* LEARN (labelled samples, t >= learn_start_step): softmax error, the hidden
  signal ('stllr': back-projected through the readout's weights in one pass
  over its memory; 'stllr_dfa' and 'tess': the square-wave projection),
  factors, then the weight updates of layer 0 and of the readout, sharing one
  LFSR bank, at the run-time decay ``lr_decay``.
* ABORT (the ``abort`` input): the sample in progress ends as END would
  end it, without scores (see ``LayerEngine``).

Nothing is dropped: a command waits until its phase can take it. Protocol
errors (an input twice in a step, a label out of range or after the first
step) are consumed, counted and raise the sticky ``error`` flag.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
from amaranth.hdl import Array, Cat, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from eligo.config import AcceleratorConfig, ConfigError
from eligo_hw.learning_signal import (BackProjection, Projection, SoftmaxError, logit_bits, square_wave_negative,
                                      tree_sum)
from eligo_hw.lfsr import LfsrBank
from eligo_hw.neuron_core import NeuronCore
from eligo_hw.traces import PreTraceScan
from eligo_hw.update import Layouts, LayerUpdate
from eligo_hw.words import Command, Kind, saturating_increment

PHASES = ("integrate", "fire", "readout", "traces", "learn", "end", "stall")
LEARN_STATES = ("ERROR_START", "ERROR_WAIT", "BACK_PROJECT", "HIDDEN_FACTORS", "READOUT_FACTORS", "UPDATE0",
                "UPDATE0_WAIT", "UPDATE1_WAIT")


def counting_layout() -> data.StructLayout:
    """One bit per counted event, high in the cycle its counter counts it (before saturation)."""
    return data.StructLayout({"learn_word": 1, "duplicate_event": 1, **{phase: 1 for phase in PHASES}})


def output_layout(cfg: AcceleratorConfig) -> data.StructLayout:
    """A hidden spike (index = neuron, value = step) or, at END, a class score (index = class)."""
    return data.StructLayout({"value": signed(cfg.readout.score_bits), "index": 16, "score": 1})


class LayerEngine(wiring.Component):
    """The trainable network of a one-hidden-layer config, with host ports for weights and for checking.

    Weight port (while ``idle``): ``weight_layer`` picks the memory,
    ``weight_addr`` the word; ``weight_rdata`` follows one cycle later;
    ``weight_we`` writes ``weight_wdata``. Probe port (while ``idle``): a
    group's membranes, post traces, logits and scores, and a row's pre
    traces, one cycle after ``probe_addr``. ``cycles_*`` count per phase,
    saturating; ``learn_words`` counts the weight words updated. ``counting``
    strobes what those counters count, so a host interface can count it in
    its own registers without a copy of each counter to watch for changes.

    ``abort`` (a one-cycle pulse, any time; ``COMMAND.reset_sample``) ends the
    sample in progress: the engine stops what it is doing, clears membranes,
    accumulators, traces and scores as END does, emits no scores and returns
    to idle. A step whose weight update has started finishes it first, so
    the weights always hold a whole number of steps' updates: they are as
    the model's after the last TICK whose update ran (``learn_steps`` tells
    which). Hidden spikes of the aborted step may have left on ``output``;
    a command being offered at the abort is not taken and waits for the
    next sample. Back to idle within one update walk + max(G0, n_in / P) + a
    few cycles.

    ``single_port_layers`` names the layers whose weights sit in a
    single-port memory (SPRAM on iCE40): their updates take two cycles a word,
    and after reset the engine is not idle and takes no command until those
    memories have written their initial words (n_in * groups cycles).
    """

    def __init__(self, cfg: AcceleratorConfig, weights: list[torch.Tensor], counter_bits: int = 32,
                 single_port_layers: tuple[int, ...] = ()):
        if len(cfg.network.hidden) != 1:
            raise ConfigError(f"the layer engine runs one hidden layer, the config has {len(cfg.network.hidden)}")
        self.cfg = cfg
        self.cores = [NeuronCore(cfg, layer) for layer in (0, 1)]
        self.updates = [LayerUpdate(cfg, layer, words, single_port=layer in single_port_layers)
                        for layer, words in enumerate(weights)]
        sizes = cfg.network.layer_sizes
        self.depths = [sizes[layer] * cfg.groups[layer] for layer in (0, 1)]
        layouts = Layouts(cfg)
        core0, core1 = self.cores
        super().__init__({
            "commands": In(stream.Signature(Command)),
            "output": Out(stream.Signature(output_layout(cfg))),
            "idle": Out(1),
            "error": Out(1),
            "clear_error": In(1),
            "abort": In(1),
            "lr_decay": In(range(cfg.learning.max_lr_decay + 1)),
            "weight_layer": In(1),
            "weight_addr": In(range(max(self.depths))),
            "weight_we": In(1),
            "weight_wdata": In(layouts.word),
            "weight_rdata": Out(layouts.word),
            "probe_addr": In(range(max(sizes[0], sizes[1]))),
            "probe_membranes": Out(core0.layouts["membranes"]),
            "probe_post": Out(core0.layouts["traces"]),
            "probe_logits": Out(core1.layouts["membranes"]),
            "probe_scores": Out(core1.layouts["scores"]),
            "probe_pre0": Out(layouts.pre),
            "probe_pre1": Out(layouts.pre),
            "steps": Out(counter_bits),
            "learn_words": Out(counter_bits),
            "learn_steps": Out(counter_bits),
            "duplicate_events": Out(counter_bits),
            "bad_labels": Out(counter_bits),
            **{f"cycles_{phase}": Out(counter_bits) for phase in PHASES},
            "counting": Out(counting_layout()),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, lanes = self.cfg, self.cfg.lanes
        n_in, n_hidden, classes = cfg.network.layer_sizes
        groups0, groups1 = cfg.groups
        core0, core1 = self.cores
        update0, update1 = self.updates
        m.submodules.core0, m.submodules.core1 = core0, core1
        m.submodules.update0, m.submodules.update1 = update0, update1
        m.submodules.bank = bank = LfsrBank(cfg.lfsr, lanes)
        m.submodules.softmax = softmax = SoftmaxError(cfg)
        back_projecting = cfg.learning.rule == "stllr"
        back = projection = None
        if back_projecting:
            m.submodules.back = back = BackProjection(cfg)
        else:
            m.submodules.projection = projection = Projection(cfg, n_hidden)
        m.submodules.scan0 = scan0 = PreTraceScan(cfg.traces, cfg.traces.pre_decay, n_in, lanes)
        m.submodules.scan1 = scan1 = PreTraceScan(cfg.traces, cfg.readout.pre_decay, n_hidden, lanes)

        m.d.comb += [self.learn_words.eq(update0.visits + update1.visits),
                     bank.step.eq(update0.lfsr_step | update1.lfsr_step),
                     self.counting.learn_word.eq(bank.step),
                     update0.noise.eq(bank.states), update1.noise.eq(bank.states),
                     update0.decay.eq(self.lr_decay), update1.decay.eq(self.lr_decay)]
        # Pre traces sit P per word: the probe reads row probe_addr's word and picks its lane a cycle later.
        lane_bits = (lanes - 1).bit_length()
        probe_lane = Signal(range(lanes))
        m.d.sync += probe_lane.eq(self.probe_addr[:lane_bits])
        for scan, update, probe in ((scan0, update0, self.probe_pre0), (scan1, update1, self.probe_pre1)):
            m.d.comb += [update.pre_read_addr.eq(Mux(scan.busy, scan.read_addr, self.probe_addr >> lane_bits)),
                         scan.read_data.eq(update.pre_read_data),
                         update.pre_we.eq(scan.write_en), update.pre_addr.eq(scan.write_addr),
                         update.pre_data.eq(scan.write_data), probe.eq(update.pre_read_data[probe_lane])]

        # Weight memories: the cores read them while integrating, the host while idle, the back-projection the
        # readout's while it runs.
        host_layer = Signal()
        m.d.sync += host_layer.eq(self.weight_layer)
        engine_addrs = [core0.weight_addr, core1.weight_addr]
        if back_projecting:
            engine_addrs[1] = Mux(back.busy, back.weight_addr, core1.weight_addr)
            m.d.comb += back.weight_data.eq(update1.weight_data)
        for layer, (core, update) in enumerate(((core0, update0), (core1, update1))):
            selected = self.weight_layer == layer
            m.d.comb += [update.weight_addr.eq(Mux(self.idle, self.weight_addr, engine_addrs[layer])),
                         update.weight_we.eq(self.idle & self.weight_we & selected),
                         update.weight_wdata.eq(self.weight_wdata),
                         core.weight_data.eq(update.weight_data)]
        m.d.comb += self.weight_rdata.eq(Mux(host_layer, update1.weight_data.as_value(),
                                             update0.weight_data.as_value()))

        # Per-sample and per-step state.
        inputs = Signal(n_in)             # events of this step: layer 0's x
        spiked = Signal(n_hidden)         # hidden spikes of this step: the readout's x
        pending = Signal(n_hidden)        # hidden spikes not yet sent to the readout
        label = Signal(range(classes))
        labelled = Signal()
        step = Signal(cfg.readout.score_bits)
        started = Signal()                # the sample has seen a word other than LABEL
        logits = Signal(data.ArrayLayout(signed(logit_bits(cfg)), classes))
        z = Signal(data.ArrayLayout(signed(logit_bits(cfg)), classes))
        readout_errors = Signal(softmax.errors_layout)
        hidden_errors = Signal(softmax.errors_layout)
        walk = Signal(range(max(groups0, groups1, 2)))
        walk_valid = Signal()
        tess_phase = Signal()             # the softmax is forming TESS's layer-local error
        factor_stage = Signal()
        factor_group = Signal(range(max(groups0, 2)))

        m.d.comb += [core0.probe_addr.eq(self.probe_addr), core1.probe_addr.eq(self.probe_addr),
                     self.probe_membranes.eq(core0.probe_membranes), self.probe_post.eq(core0.probe_post),
                     self.probe_logits.eq(core1.probe_membranes), self.probe_scores.eq(core1.probe_scores),
                     scan0.spikes.eq(inputs), scan1.spikes.eq(spiked)]

        def flag_error():
            m.d.sync += self.error.eq(1)

        with m.If(self.clear_error):
            m.d.sync += self.error.eq(0)

        # Hidden fire results: spikes and TESS's z_k = sum_i B[k, i] s_i (B's signs driven unconditionally).
        negative = Signal(classes * lanes)
        m.d.comb += negative.eq(square_wave_negative(cfg, n_hidden, core0.result.group))
        with m.If(core0.result_valid):
            group = core0.result.group
            m.d.sync += [spiked.word_select(group, lanes).eq(core0.result.spikes),
                         pending.word_select(group, lanes).eq(core0.result.spikes)]
            for k in range(classes):
                terms = [Mux(core0.result.spikes[lane], Mux(negative[k * lanes + lane], -1, 1), 0)
                         for lane in range(lanes)]
                m.d.sync += z[k].eq(z[k] + tree_sum(terms))
        with m.If(core1.result_valid):
            for k in range(classes):
                with m.If(core1.result.group == k // lanes):
                    m.d.sync += logits[k].eq(core1.result.integrated[k % lanes])

        # Lowest pending hidden spike: the next readout event.
        has_pending = pending.any()
        lowest = Signal(range(n_hidden))
        for i in reversed(range(n_hidden)):
            with m.If(pending[i]):
                m.d.comb += lowest.eq(i)

        # Data buses are driven unconditionally and only their strobes depend on the state: a bit that is
        # constant in every branch of a conditional assignment is lost by the Verilog backend (X in Icarus).
        # The hidden signals of the group issued, a cycle later: the back-projection's memory reads them in that
        # cycle; the square wave's combinational projection is held a cycle here, so its adder tree and the
        # factor multipliers are in different cycles.
        if back_projecting:
            signals = back.signals
        else:
            signals = Signal.like(projection.signals)
            m.d.sync += signals.eq(projection.signals)
        self._hidden_factors(m, core0, update0, signals, factor_group)
        for lane in range(lanes):
            padded = [readout_errors[k] if k < classes else 0 for k in range(lane, groups1 * lanes, lanes)]
            m.d.comb += update1.factor_data.causal[lane].eq(padded[0] if groups1 == 1 else Array(padded)[walk])
        in_scores = Signal()
        klass = Signal(range(classes))
        m.d.comb += [
            update1.factor_addr.eq(walk), update1.factor_data.noncausal.eq(0),
            self.output.payload.score.eq(in_scores),
            self.output.payload.index.eq(Mux(in_scores, klass, lowest)),
            self.output.payload.value.eq(Mux(in_scores, core1.probe_scores.as_value().word_select(
                klass % lanes, cfg.readout.score_bits).as_signed(), step)),
        ]

        command = self.commands.payload
        duplicate = inputs.bit_select(command.payload, 1)
        ready = Signal()                  # RUN can take the command offered
        abort_now = Signal()              # leave the current state for ABORT
        abort_pending = Signal()          # an abort waits for the weight update in flight
        # A single-port weight memory writes its initial words after reset (its update busy meanwhile): until it
        # is done no command is taken and the host port is not free.
        weights_loading = Cat(update.busy for update in self.updates if update.single_port).any()
        refuse = abort_now | weights_loading
        m.d.comb += [self.commands.ready.eq(ready & ~refuse),
                     core0.events.payload.eq(command.payload)]

        @contextmanager
        def state(name, abortable=True):
            """An FSM state that an abort leaves for ABORT (its last word on ``m.next``)."""
            with m.State(name):
                yield
                if abortable:
                    with m.If(abort_now):
                        m.next = "ABORT"

        learning_on = labelled & (step >= cfg.learning.learn_start_step)
        if back_projecting:
            m.d.comb += [back.errors.eq(readout_errors), back.group.eq(walk)]
        else:
            m.d.comb += [projection.errors.eq(hidden_errors), projection.group.eq(walk)]
        m.d.comb += [core0.factor_addr.eq(walk), softmax.label.eq(label), softmax.tess.eq(tess_phase),
                     softmax.logits.eq(Mux(tess_phase, z.as_value(), logits.as_value()))]

        with m.FSM() as fsm:
            with state("RUN"):
                with m.Switch(command.kind):
                    with m.Case(Kind.EVENT):
                        with m.If(duplicate):
                            m.d.comb += ready.eq(1)
                        with m.Else():
                            m.d.comb += [core0.events.valid.eq(self.commands.valid & ~refuse),
                                         ready.eq(core0.events.ready)]
                    with m.Case(Kind.TICK):
                        m.d.comb += ready.eq(~core0.busy)
                    with m.Default():
                        m.d.comb += ready.eq(1)
                with m.If(self.commands.valid & self.commands.ready):
                    with m.Switch(command.kind):
                        with m.Case(Kind.EVENT):
                            m.d.sync += started.eq(1)
                            with m.If(duplicate):
                                flag_error()
                                m.d.comb += self.counting.duplicate_event.eq(1)
                                saturating_increment(m, self.duplicate_events, 1)
                            with m.Else():
                                m.d.sync += inputs.bit_select(command.payload, 1).eq(1)
                        with m.Case(Kind.LABEL):
                            with m.If(started | (command.payload >= classes)):
                                flag_error()
                                saturating_increment(m, self.bad_labels, 1)
                            with m.Else():
                                m.d.sync += [label.eq(command.payload), labelled.eq(1)]
                        with m.Case(Kind.TICK):
                            m.d.sync += [started.eq(1), z.eq(0)]
                            m.d.comb += [core0.fire.eq(1), scan0.start.eq(1)]
                            saturating_increment(m, self.steps, 1)
                            m.next = "FIRE"
                        with m.Case(Kind.END):
                            m.d.sync += [klass.eq(0), walk_valid.eq(0)]
                            m.next = "SCORES"
            with state("FIRE"):
                with m.If(~core0.busy):
                    m.d.comb += scan1.start.eq(1)
                    m.next = "READOUT"
            with state("READOUT"):
                transfer = has_pending & self.output.ready & core1.events.ready
                m.d.comb += [self.output.valid.eq(has_pending & core1.events.ready),
                             core1.events.valid.eq(has_pending & self.output.ready),
                             core1.events.payload.eq(lowest)]
                with m.If(transfer):
                    m.d.sync += pending.bit_select(lowest, 1).eq(0)
                with m.If(~has_pending & ~core1.busy):
                    m.d.comb += core1.fire.eq(1)
                    m.next = "READOUT_FIRE"
            with state("READOUT_FIRE"):
                with m.If(~core1.busy):
                    m.next = "TRACES"
            with state("TRACES"):
                with m.If(~scan0.busy & ~scan1.busy):
                    m.d.sync += tess_phase.eq(0)
                    with m.If(learning_on):
                        m.next = "ERROR_START"
                    with m.Else():
                        m.next = "STEP_DONE"
            with state("ERROR_START"):
                m.d.comb += softmax.start.eq(1)
                m.next = "ERROR_WAIT"
            with state("ERROR_WAIT"):
                with m.If(~softmax.busy):
                    m.d.sync += [hidden_errors.eq(softmax.errors), walk.eq(0), walk_valid.eq(0),
                                 factor_stage.eq(0)]
                    with m.If(~tess_phase):
                        m.d.sync += readout_errors.eq(softmax.errors)
                    if cfg.learning.rule == "tess":
                        with m.If(~tess_phase):
                            m.d.sync += tess_phase.eq(1)
                            m.next = "ERROR_START"
                        with m.Else():
                            m.next = "HIDDEN_FACTORS"
                    elif back_projecting:  # it reads the readout errors from the next cycle on
                        m.d.comb += back.start.eq(1)
                        m.next = "BACK_PROJECT"
                    else:
                        m.next = "HIDDEN_FACTORS"
            if back_projecting:
                with state("BACK_PROJECT"):
                    with m.If(~back.busy):
                        m.next = "HIDDEN_FACTORS"
            with state("HIDDEN_FACTORS"):
                # Psi and h[t-1] of a group arrive the cycle after its address: issue, then write the factors.
                m.d.sync += factor_stage.eq(0)
                with m.If(~walk_valid):
                    m.d.sync += [walk.eq(walk + 1), factor_stage.eq(1), factor_group.eq(walk)]
                    with m.If(walk == groups0 - 1):
                        m.d.sync += [walk_valid.eq(1), walk.eq(0)]
                with m.If(factor_stage):
                    m.d.comb += update0.factor_we.eq(1)
                    with m.If(factor_group == groups0 - 1):
                        m.next = "READOUT_FACTORS"
            with state("READOUT_FACTORS"):
                m.d.comb += update1.factor_we.eq(1)
                m.d.sync += walk.eq(walk + 1)
                with m.If(walk == groups1 - 1):
                    m.d.sync += walk.eq(0)
                    m.next = "UPDATE0"
            with state("UPDATE0", abortable=False):
                m.d.comb += update0.start.eq(1)
                saturating_increment(m, self.learn_steps, 1)
                m.next = "UPDATE0_WAIT"
            with state("UPDATE0_WAIT", abortable=False):
                with m.If(~update0.busy):
                    m.d.comb += update1.start.eq(1)
                    m.next = "UPDATE1_WAIT"
            with state("UPDATE1_WAIT", abortable=False):
                with m.If(~update1.busy):
                    m.next = "STEP_DONE"
            with state("STEP_DONE"):
                m.d.sync += [inputs.eq(0), step.eq(step + 1)]
                m.next = "RUN"
            with state("SCORES"):
                # One class per accepted word; a group's scores are read once, a cycle before its first class.
                lane = klass % lanes
                m.d.comb += core1.probe_addr.eq(klass // lanes)
                m.d.comb += in_scores.eq(1)
                with m.If(~walk_valid):
                    m.d.sync += walk_valid.eq(1)
                with m.Else():
                    m.d.comb += self.output.valid.eq(1)
                    with m.If(self.output.ready):
                        m.d.sync += [klass.eq(klass + 1), walk_valid.eq(lane != lanes - 1)]
                        with m.If(klass == classes - 1):
                            m.d.comb += [core0.clear.eq(1), core1.clear.eq(1), scan0.clear.eq(1), scan1.clear.eq(1)]
                            m.next = "CLEAR"
            with state("ABORT", abortable=False):
                m.d.comb += [core0.abort.eq(1), core1.abort.eq(1), scan0.abort.eq(1), scan1.abort.eq(1)]
                m.d.sync += [pending.eq(0), abort_pending.eq(0)]
                m.next = "CLEAR"
            with state("CLEAR", abortable=False):
                with m.If(~Cat(unit.busy for unit in (core0, core1, scan0, scan1, softmax, back) if unit).any()):
                    m.d.sync += [inputs.eq(0), step.eq(0), labelled.eq(0), started.eq(0)]
                    m.next = "RUN"

        # An abort in a weight update waits for its end (STEP_DONE); in ABORT and CLEAR it has nothing left to do.
        finishing = Cat(fsm.ongoing(name) for name in ("UPDATE0", "UPDATE0_WAIT", "UPDATE1_WAIT")).any()
        settled = fsm.ongoing("ABORT") | fsm.ongoing("CLEAR")
        m.d.comb += abort_now.eq((self.abort | abort_pending) & ~finishing & ~settled)
        with m.If(self.abort & finishing):
            m.d.sync += abort_pending.eq(1)

        # The host ports are free; an unconditional assignment, so Icarus evaluates it from time 0.
        m.d.comb += self.idle.eq(fsm.ongoing("RUN") & ~core0.busy & ~self.commands.valid & ~weights_loading)
        phase_states = {
            "integrate": fsm.ongoing("RUN") & core0.busy,
            "fire": fsm.ongoing("FIRE"),
            "readout": fsm.ongoing("READOUT") | fsm.ongoing("READOUT_FIRE"),
            "traces": fsm.ongoing("TRACES"),
            "learn": Cat(fsm.ongoing(state) for state in LEARN_STATES if state in fsm.encoding).any(),
            "end": fsm.ongoing("SCORES") | fsm.ongoing("ABORT") | fsm.ongoing("CLEAR"),
            "stall": self.output.valid & ~self.output.ready,
        }
        for phase, condition in phase_states.items():
            m.d.comb += getattr(self.counting, phase).eq(condition)
            saturating_increment(m, getattr(self, f"cycles_{phase}"), condition)
        return m

    def _hidden_factors(self, m, core0, update0, signals, factor_group):
        """causal = L * Psi, noncausal = alpha_post * L * h[t-1] for the P neurons of ``factor_group``.

        ``signals`` are that group's hidden signals, arriving with its Psi and
        h[t-1] a cycle after the group was issued.
        """
        alpha = self.cfg.learning.alpha_post
        m.d.comb += update0.factor_addr.eq(factor_group)
        for lane in range(self.cfg.lanes):
            signal = signals[lane]
            m.d.comb += update0.factor_data.causal[lane].eq(signal * core0.factor_psi[lane])
            post_term = signal * core0.factor_post[lane]
            noncausal = {0: 0, 1: post_term, -1: -post_term}[alpha]
            m.d.comb += update0.factor_data.noncausal[lane].eq(noncausal)
