"""Layer engine: the hidden layers and the readout, trained on chip one time step at a time.

It takes the decoded word stream (``WordDecoder.commands``) and runs the
model's step (``docs/fixed-point.md``, "One time step"; ``docs/architecture.md``
for the phases and their cycle costs) on a list of ``LayerDatapath``s:

* RUN: EVENT j is integrated into the first hidden layer (``groups`` cycles;
  taken after a cycle on offer, which the event before it hides when
  ``groups`` > 1); LABEL arms learning for the sample; TICK closes the step;
  END emits the class scores and clears the per-sample state.
* FIRE l, TRANSFER l for each hidden layer l: the layer walks its groups,
  collecting its spikes (and TESS's z_l), and starts its pre-trace scan; then
  each spike leaves on ``output`` (back-pressure stalls it) and is integrated
  into layer l + 1, whose pre-trace scan starts. The readout fires last.
* LEARN (labelled samples, t >= learn_start_step): the readout's softmax
  error, then per hidden layer its signal ('stllr': back-projected through the
  readout's weights in one pass over its memory; 'stllr_dfa': the readout
  error through the layer's square wave; 'tess': the layer's own softmax error
  of z_l through its square wave) and its factors, the readout's factors, then
  the weight updates of all layers at once (each layer and update bank on its
  own LFSRs), at the run-time decay ``lr_decay``. Nothing travels between layers for TESS's signals.
* ABORT (the ``abort`` input): the sample in progress ends as END would
  end it, without scores (see ``LayerEngine``).

Nothing is dropped: a command waits until its phase can take it. Protocol
errors (an input twice in a step, a label out of range or after the first
step) are consumed, counted and raise the sticky ``error`` flag.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from eligo.config import AcceleratorConfig
from eligo.fixed.lfsr import walk_registers
from eligo_hw.arith import lowest_set, select
from eligo_hw.layer_datapath import LayerDatapath, WeightPortSignature, probe_layout, probe_rows
from eligo_hw.learning_signal import (BackProjection, Projection, SoftmaxError, logit_bits, square_wave_negative,
                                      tree_sum)
from eligo_hw.lfsr import LfsrBank
from eligo_hw.words import Command, Kind, delayed, saturating_increment

PHASES = ("integrate", "fire", "readout", "traces", "learn", "end", "stall")
COUNTERS = ("steps", "learn_words", "learn_steps", "duplicate_events", "bad_labels",
            *(f"cycles_{phase}" for phase in PHASES))


def counting_layout(cfg: AcceleratorConfig) -> data.StructLayout:
    """What each counter counts in a cycle (before saturation): one bit per event, and the weight words the
    update banks visit."""
    return data.StructLayout({"learn_word": range((len(cfg.network.layer_sizes) - 1) * cfg.banks + 1),
                              "duplicate_event": 1,
                              **{phase: 1 for phase in PHASES}})


def output_layout(cfg: AcceleratorConfig) -> data.StructLayout:
    """A hidden spike (index = neuron, value = step, layer = its hidden layer) or, at END, a class score."""
    layers = range(max(len(cfg.network.hidden), 2))
    return data.StructLayout({"value": signed(cfg.readout.score_bits), "index": 16, "score": 1, "layer": layers})


class ProbeSignature(wiring.Signature):
    """Reads the state of layer ``layer`` at ``addr`` a cycle later, seen from the prober: a hidden layer's
    membranes and post traces of a group, any layer's pre trace of a row, the readout's logits and scores."""

    def __init__(self, cfg: AcceleratorConfig):
        layout = probe_layout(cfg)
        super().__init__({"layer": Out(range(len(cfg.network.layer_sizes) - 1)), "addr": Out(range(probe_rows(cfg))),
                          "membranes": In(layout["membranes"].shape), "post": In(layout["post"].shape),
                          "pre": In(layout["pre"].shape), "logits": In(layout["membranes"].shape),
                          "scores": In(layout["scores"].shape)})


class LayerEngine(wiring.Component):
    """The trainable network of ``cfg`` (1 or more hidden layers), with host ports for weights and for checking.

    ``weights`` (while ``idle``): ``layer`` picks the memory, ``addr`` the
    word; ``rdata`` follows one cycle later; ``we`` writes ``wdata``. ``probe``
    (while ``idle``): see ``ProbeSignature``. ``counters`` count per phase,
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
    next sample. Back to idle within one update walk + max(G, n_in / P) + a
    few cycles.

    ``single_port_layers`` names the layers whose weights sit in a
    single-port memory (SPRAM on iCE40): their updates take two cycles a word,
    and after reset the engine is not idle and takes no command until those
    memories have written their initial words (n_in * groups cycles).
    """

    def __init__(self, cfg: AcceleratorConfig, words: list[torch.Tensor], counter_bits: int = 32,
                 single_port_layers: tuple[int, ...] = ()):
        self.cfg = cfg
        self.layers = [LayerDatapath(cfg, layer, layer_words, single_port=layer in single_port_layers)
                       for layer, layer_words in enumerate(words)]
        super().__init__({
            "commands": In(stream.Signature(Command)),
            "output": Out(stream.Signature(output_layout(cfg))),
            "idle": Out(1), "error": Out(1), "clear_error": In(1), "abort": In(1),
            "lr_decay": In(range(cfg.learning.max_lr_decay + 1)),
            "weights": In(WeightPortSignature(cfg, layer_select=True)),
            "probe": In(ProbeSignature(cfg)),
            "counters": Out(wiring.Signature({name: Out(counter_bits) for name in COUNTERS})),
            "counting": Out(counting_layout(cfg)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, layers = self.cfg, self.layers
        for index, layer in enumerate(layers):
            m.submodules[f"layer{index}"] = layer
        # The LFSRs of each layer's update banks: its own, so all layers' walks can run at once.
        for index, layer in enumerate(layers):
            for bank in range(cfg.banks):
                m.submodules[f"lfsrs{index}_{bank}"] = lfsrs = LfsrBank(cfg.lfsr, cfg.lanes,
                                                                        *walk_registers(cfg, index, bank))
                m.d.comb += [lfsrs.step.eq(layer.learn.lfsr_step[bank]), layer.learn.noise[bank].eq(lfsrs.states)]
        m.d.comb += [self.counters.learn_words.eq(sum(layer.learn.visits for layer in layers)),
                     self.counting.learn_word.eq(sum(Cat(layer.learn.lfsr_step for layer in layers)))]
        for layer in layers:
            m.d.comb += layer.learn.decay.eq(self.lr_decay)
        with m.If(self.clear_error):
            m.d.sync += self.error.eq(0)
        step = _Step(cfg)
        self._host_ports(m)
        self._forward(m, step)
        signals = self._signals(m, step)
        self._factors(m, step, signals)
        self._fsm(m, step)
        return m

    def _host_ports(self, m):
        """The weight port reaches layer ``weights.layer`` while idle (the back-projection may take the readout's
        while learning); the probe reads every layer."""
        host, probe, layers = self.weights, self.probe, self.layers
        host_layer, probe_layer = Signal.like(host.layer), Signal.like(probe.layer)
        m.d.sync += [host_layer.eq(host.layer), probe_layer.eq(probe.layer)]
        for index, layer in enumerate(layers):
            m.d.comb += [layer.weights.enable.eq(self.idle), layer.weights.addr.eq(host.addr),
                         layer.weights.we.eq(self.idle & host.we & (host.layer == index)),
                         layer.weights.wdata.eq(host.wdata), layer.probe_addr.eq(probe.addr)]
        hidden = layers[:-1]
        m.d.comb += [host.rdata.eq(select([layer.weights.rdata.as_value() for layer in layers], host_layer)),
                     probe.membranes.eq(select([layer.probe.membranes.as_value() for layer in hidden], probe_layer)),
                     probe.post.eq(select([layer.probe.post.as_value() for layer in hidden], probe_layer)),
                     probe.pre.eq(select([layer.probe.pre for layer in layers], probe_layer)),
                     probe.logits.eq(layers[-1].probe.membranes), probe.scores.eq(layers[-1].probe.scores)]

    def _forward(self, m, step: _Step):
        """Spikes of each hidden layer's fire, the next layer's inputs; TESS's z_l; the readout's logits."""
        cfg, layers = self.cfg, self.layers
        lanes, classes = cfg.lanes, cfg.network.n_classes
        m.d.comb += [layer.inputs.eq(x) for layer, x in zip(layers, step.inputs)]
        for layer, spiked, unsent, z, n in zip(layers, step.inputs[1:], step.unsent, step.z, cfg.network.hidden):
            result = layer.result
            negative = Signal(classes * lanes)  # B's signs driven unconditionally
            m.d.comb += negative.eq(square_wave_negative(cfg, n, result.group))
            with m.If(layer.result_valid):
                m.d.sync += [spiked.word_select(result.group, lanes).eq(result.spikes),
                             unsent.bit_select(result.group, 1).eq(result.spikes.any())]
                if z is not None:
                    for k in range(classes):
                        terms = [Mux(result.spikes[lane], Mux(negative[k * lanes + lane], -1, 1), 0)
                                 for lane in range(lanes)]
                        m.d.sync += z[k].eq(z[k] + tree_sum(terms))
        readout = layers[-1]
        with m.If(readout.result_valid):
            for k in range(classes):
                with m.If(readout.result.group == k // lanes):
                    m.d.sync += step.logits[k].eq(readout.result.integrated[k % lanes])

    def _signals(self, m, step: _Step) -> list:
        """Each hidden layer's signals L of the group ``step.walk`` issued, a cycle later, as the factors need."""
        cfg = self.cfg
        m.submodules.softmax = softmax = step.softmax
        sources = [step.logits, *(z for z in step.z if z is not None)]
        m.d.comb += [softmax.label.eq(step.label), softmax.tess.eq(step.softmax_source != 0),
                     softmax.logits.eq(select([source.as_value() for source in sources], step.softmax_source))]
        if step.back is not None:  # the readout's weight memory, read by the back-projection while it runs
            m.submodules.back = back = step.back
            readout = self.layers[-1]
            with m.If(back.busy):
                m.d.comb += [readout.weights.enable.eq(1), readout.weights.addr.eq(back.weight_addr),
                             readout.weights.we.eq(0)]
            m.d.comb += [back.weight_data.eq(readout.weights.rdata), back.errors.eq(step.readout_errors),
                         back.group.eq(step.walk)]
            return [back.signals]
        signals = []
        for index, n in enumerate(cfg.network.hidden):
            m.submodules[f"projection{index}"] = projection = Projection(cfg, n)
            errors = step.hidden_errors if cfg.learning.rule == "tess" else step.readout_errors
            held = Signal.like(projection.signals)  # the adder tree and the factor multipliers in separate cycles
            m.d.comb += [projection.errors.eq(errors), projection.group.eq(step.walk)]
            m.d.sync += held.eq(projection.signals)
            signals.append(held)
        return signals

    def _factors(self, m, step: _Step, signals: list):
        """causal = L * Psi, noncausal = alpha_post * L * h[t-1] per hidden neuron; the readout's errors."""
        cfg, layers = self.cfg, self.layers
        alpha = cfg.learning.alpha_post
        for layer, layer_signals in zip(layers, signals):
            learn = layer.learn
            m.d.comb += [learn.factor_addr.eq(step.factor_group), layer.factor_addr.eq(step.walk)]
            for lane in range(cfg.lanes):
                signal = layer_signals[lane]
                post_term = signal * layer.factor_post[lane]
                m.d.comb += [learn.factor_data.causal[lane].eq(signal * layer.factor_psi[lane]),
                             learn.factor_data.noncausal[lane].eq({0: 0, 1: post_term, -1: -post_term}[alpha])]
        readout, groups = layers[-1].learn, cfg.groups[-1]
        for lane in range(cfg.lanes):
            padded = [step.readout_errors[k] if k < cfg.network.n_classes else 0
                      for k in range(lane, groups * cfg.lanes, cfg.lanes)]
            m.d.comb += readout.factor_data.causal[lane].eq(padded[0] if groups == 1 else Array(padded)[step.walk])
        m.d.comb += [readout.factor_addr.eq(step.walk), readout.factor_data.noncausal.eq(0)]

    def _fsm(self, m, step: _Step):
        """The step's phases (module docstring); aborts; the idle flag and the phase counters."""
        layers, hidden = self.layers, self.layers[:-1]
        abort_now = Signal()              # leave the current state for ABORT
        abort_pending = Signal()          # an abort waits for the weight update in flight
        # A single-port weight memory writes its initial words after reset (its update busy meanwhile): until it
        # is done no command is taken and the host port is not free.
        loading = Cat(layer.learn.busy for layer in layers if layer.weight_update.single_port).any()
        step.refuse = abort_now | loading
        learn_states = []

        @contextmanager
        def state(name, abortable=True, learning=False):
            """An FSM state that an abort leaves for ABORT (its last word on ``m.next``)."""
            if learning:
                learn_states.append(name)
            with m.State(name):
                yield
                if abortable:
                    with m.If(abort_now):
                        m.next = "ABORT"

        self._output(m, step)
        with m.FSM() as fsm:
            with state("RUN"):
                self._run(m, step)
            for index in range(len(hidden)):
                self._transfer(m, step, state, index)
            with state("READOUT_FIRE"):
                with m.If(~layers[-1].busy):
                    m.next = "TRACES"
            with state("TRACES"):
                with m.If(~Cat(layer.scanning for layer in layers).any()):
                    m.d.sync += step.softmax_source.eq(0)
                    with m.If(step.labelled & (step.index >= self.cfg.learning.learn_start_step)):
                        m.next = "ERROR_START"
                    with m.Else():
                        m.next = "STEP_DONE"
            self._learn(m, step, state)
            with state("STEP_DONE"):
                m.d.sync += [step.inputs[0].eq(0), step.index.eq(step.index + 1)]
                m.next = "RUN"
            self._end(m, step, state)
        # An abort in a weight update waits for its end (STEP_DONE); in ABORT and CLEAR it has nothing left to do.
        finishing = fsm.ongoing("UPDATE_START") | fsm.ongoing("UPDATE_WAIT")
        settled = fsm.ongoing("ABORT") | fsm.ongoing("CLEAR")
        m.d.comb += abort_now.eq((self.abort | abort_pending) & ~finishing & ~settled)
        with m.If(self.abort & finishing):
            m.d.sync += abort_pending.eq(1)
        with m.If(settled):
            m.d.sync += abort_pending.eq(0)
        # The walks' start, which the layers register: unconditional, so Icarus never registers an X from time 0.
        m.d.comb += [layer.learn.start.eq(fsm.ongoing("UPDATE_START")) for layer in layers]
        m.d.sync += [step.waited.eq(fsm.ongoing("RUN") & self.commands.valid & ~self.commands.ready),
                     step.seen.eq(step.inputs[0].bit_select(self.commands.payload.payload, 1))]
        # The host ports are free; an unconditional assignment, so Icarus evaluates it from time 0.
        m.d.comb += self.idle.eq(fsm.ongoing("RUN") & ~layers[0].busy & ~self.commands.valid & ~loading)
        phase_states = {
            "integrate": fsm.ongoing("RUN") & layers[0].busy,
            "fire": Cat(fsm.ongoing(f"FIRE{index}") for index in range(len(hidden))).any(),
            "readout": Cat(fsm.ongoing(f"TRANSFER{index}") for index in range(len(hidden))).any()
            | fsm.ongoing("READOUT_FIRE"),
            "traces": fsm.ongoing("TRACES"),
            "learn": Cat(fsm.ongoing(name) for name in learn_states).any(),
            "end": fsm.ongoing("SCORES") | fsm.ongoing("ABORT") | fsm.ongoing("CLEAR"),
            "stall": self.output.valid & ~self.output.ready,
        }
        for phase, condition in phase_states.items():
            m.d.comb += getattr(self.counting, phase).eq(condition)
            saturating_increment(m, getattr(self.counters, f"cycles_{phase}"), condition)

    def _output(self, m, step: _Step):
        """The output and command buses, driven unconditionally: a bit that is constant in every branch of a
        conditional assignment is lost by the Verilog backend (X in Icarus). Only their strobes follow the state."""
        cfg, readout = self.cfg, self.layers[-1]
        score = readout.probe.scores.as_value().word_select(step.klass % cfg.lanes, cfg.readout.score_bits)
        m.d.comb += [self.output.payload.score.eq(step.in_scores), self.output.payload.layer.eq(step.transfer_layer),
                     self.output.payload.index.eq(Mux(step.in_scores, step.klass, step.spike)),
                     self.output.payload.value.eq(Mux(step.in_scores, score.as_signed(), step.index)),
                     self.commands.ready.eq(step.ready & ~step.refuse),
                     self.layers[0].events.payload.eq(self.commands.payload.payload)]

    def _run(self, m, step: _Step):
        """RUN: take a command; EVENT into the first layer, TICK fires it."""
        command, first = self.commands.payload, self.layers[0]
        inputs = step.inputs[0]
        # An input's bit is set the cycle after its event is taken (the decoder of the payload and the take are
        # not in one cycle with the bitmap's 512 enables), and an EVENT is taken only after a cycle on offer, its
        # bit read then (``step.seen``: the 512-way select is not in one cycle with the take). An event taken in
        # the last two cycles is compared with the offer meanwhile.
        marking, marked = Signal(), Signal.like(command.payload)
        m.d.sync += marking.eq(0)
        with m.If(marking):
            m.d.sync += inputs.bit_select(marked, 1).eq(1)
        marked_last, marked_before = delayed(m, marking, name="marked_last"), delayed(m, marked, name="marked_before")
        duplicate = (step.seen | (marked_last & (marked_before == command.payload))
                     | (marking & (marked == command.payload)))
        with m.Switch(command.kind):
            with m.Case(Kind.EVENT):  # taken when the core can take one, so the repeat check is not on the handshake
                m.d.comb += [first.events.valid.eq(self.commands.valid & step.waited & ~step.refuse & ~duplicate),
                             step.ready.eq(first.events.ready & step.waited)]
            with m.Case(Kind.TICK):
                m.d.comb += step.ready.eq(~first.busy)
            with m.Default():
                m.d.comb += step.ready.eq(1)
        with m.If(self.commands.valid & self.commands.ready):
            with m.Switch(command.kind):
                with m.Case(Kind.EVENT):
                    m.d.sync += step.started.eq(1)
                    with m.If(duplicate):
                        m.d.sync += self.error.eq(1)
                        m.d.comb += self.counting.duplicate_event.eq(1)
                        saturating_increment(m, self.counters.duplicate_events, 1)
                    with m.Else():
                        m.d.sync += [marking.eq(1), marked.eq(command.payload)]
                with m.Case(Kind.LABEL):
                    with m.If(step.started | (command.payload >= self.cfg.network.n_classes)):
                        m.d.sync += self.error.eq(1)
                        saturating_increment(m, self.counters.bad_labels, 1)
                    with m.Else():
                        m.d.sync += [step.label.eq(command.payload), step.labelled.eq(1)]
                with m.Case(Kind.TICK):
                    m.d.sync += [step.started.eq(1), *(z.eq(0) for z in step.z if z is not None)]
                    m.d.comb += [first.fire.eq(1), first.scan.eq(1)]
                    saturating_increment(m, self.counters.steps, 1)
                    m.next = "FIRE0"
                with m.Case(Kind.END):
                    m.d.sync += [step.klass.eq(0), step.walk_valid.eq(0)]
                    m.next = "SCORES"

    def _transfer(self, m, step: _Step, state, index: int):
        """FIRE l: hidden layer l fires; TRANSFER l: its spikes leave on ``output`` into layer l + 1, which fires."""
        layer, following = self.layers[index], self.layers[index + 1]
        unsent, lanes = step.unsent[index], self.cfg.lanes
        spiked = step.inputs[index + 1]
        spiked_words = Cat(spiked, Const(0, len(unsent) * lanes - len(spiked)))
        with state(f"FIRE{index}"):
            with m.If(~layer.busy):
                m.d.comb += following.scan.eq(1)
                m.d.sync += step.transfer_layer.eq(index)
                m.next = f"TRANSFER{index}"
        with state(f"TRANSFER{index}"):
            # Two small priority encoders instead of one over the whole layer: ``step.word`` holds the spikes not
            # yet sent of one group (loaded from the lowest group in ``unsent``), and the lowest of them moves into
            # a register (``step.spike``) the cycle before it is offered, so no encoder feeds the next layer's
            # weight address in the same cycle. A group costs one cycle to load.
            word, word_group, spike_valid, spike = step.word, step.word_group, step.spike_valid, step.spike
            has_pending = (word != 0) | unsent.any()
            m.d.comb += [self.output.valid.eq(spike_valid & following.events.ready),
                         following.events.valid.eq(spike_valid & self.output.ready),
                         following.events.payload.eq(spike)]
            with m.If(~spike_valid | (self.output.ready & following.events.ready)):
                m.d.sync += [spike_valid.eq(word != 0), spike.eq(word_group * lanes + lowest_set(word)),
                             word.eq(word & (word - 1))]  # the lowest set bit cleared
            with m.If((word == 0) & unsent.any()):
                group = lowest_set(unsent)
                m.d.sync += [word.eq(spiked_words.word_select(group, lanes)), word_group.eq(group),
                             unsent.bit_select(group, 1).eq(0)]
            with m.If(~has_pending & ~spike_valid & ~following.busy):
                m.d.comb += following.fire.eq(1)
                m.next = f"FIRE{index + 1}" if index + 1 < len(self.layers) - 1 else "READOUT_FIRE"

    def _learn(self, m, step: _Step, state):
        """The readout's error, each hidden layer's signal and factors, the readout's factors, the updates."""
        cfg, layers = self.cfg, self.layers
        hidden, readout = layers[:-1], layers[-1]
        tess = cfg.learning.rule == "tess"
        softmax = step.softmax

        def enter_factors(index):
            m.d.sync += [step.walk.eq(0), step.walk_valid.eq(0), step.factor_stage.eq(0)]
            m.next = f"FACTORS{index}"

        def signal_of(index):
            """Start layer ``index``'s signal: TESS its own softmax, else the readout's error is all it needs."""
            if tess:
                m.d.sync += step.softmax_source.eq(index + 1)
                m.next = "ERROR_START"
            else:
                enter_factors(index)

        with state("ERROR_START", learning=True):
            m.d.comb += softmax.start.eq(1)
            m.next = "ERROR_WAIT"
        with state("ERROR_WAIT", learning=True):
            with m.If(~softmax.busy):
                m.d.sync += step.hidden_errors.eq(softmax.errors)
                with m.If(step.softmax_source == 0):
                    m.d.sync += step.readout_errors.eq(softmax.errors)
                if tess:
                    with m.Switch(step.softmax_source):
                        with m.Case(0):
                            signal_of(0)
                        for index in range(len(hidden)):
                            with m.Case(index + 1):
                                enter_factors(index)
                elif step.back is not None:  # it reads the readout errors from the next cycle on
                    m.d.comb += step.back.start.eq(1)
                    m.next = "BACK_PROJECT"
                else:
                    enter_factors(0)
        if step.back is not None:
            with state("BACK_PROJECT", learning=True):
                with m.If(~step.back.busy):
                    enter_factors(0)
        for index, layer in enumerate(hidden):
            with state(f"FACTORS{index}", learning=True):
                # Psi and h[t-1] of a group arrive the cycle after its address: issue, then write the factors.
                groups = cfg.groups[index]
                m.d.sync += step.factor_stage.eq(0)
                with m.If(~step.walk_valid):
                    m.d.sync += [step.walk.eq(step.walk + 1), step.factor_stage.eq(1), step.factor_group.eq(step.walk)]
                    with m.If(step.walk == groups - 1):
                        m.d.sync += [step.walk_valid.eq(1), step.walk.eq(0)]
                with m.If(step.factor_stage):
                    m.d.comb += layer.learn.factor_we.eq(1)
                    with m.If(step.factor_group == groups - 1):
                        if index + 1 < len(hidden):
                            signal_of(index + 1)
                        else:
                            m.next = "READOUT_FACTORS"
        with state("READOUT_FACTORS", learning=True):
            m.d.comb += readout.learn.factor_we.eq(1)
            m.d.sync += step.walk.eq(step.walk + 1)
            with m.If(step.walk == cfg.groups[-1] - 1):
                m.d.sync += step.walk.eq(0)
                m.next = "UPDATE_START"
        with state("UPDATE_START", abortable=False, learning=True):
            # Every layer's walk at once (``start`` below): each has its own memory and LFSRs, all factors are in.
            saturating_increment(m, self.counters.learn_steps, 1)
            m.next = "UPDATE_WAIT"
        with state("UPDATE_WAIT", abortable=False, learning=True):
            with m.If(~Cat(layer.learn.busy for layer in layers).any()):
                m.next = "STEP_DONE"

    def _end(self, m, step: _Step, state):
        """END sends the scores and clears; ABORT clears without them."""
        cfg, layers, lanes = self.cfg, self.layers, self.cfg.lanes
        with state("SCORES"):
            # One class per accepted word; a group's scores are read once, a cycle before its first class.
            lane = step.klass % lanes
            m.d.comb += [layers[-1].probe_addr.eq(step.klass // lanes), step.in_scores.eq(1)]
            with m.If(~step.walk_valid):
                m.d.sync += step.walk_valid.eq(1)
            with m.Else():
                m.d.comb += self.output.valid.eq(1)
                with m.If(self.output.ready):
                    m.d.sync += [step.klass.eq(step.klass + 1), step.walk_valid.eq(lane != lanes - 1)]
                    with m.If(step.klass == cfg.network.n_classes - 1):
                        m.d.comb += [layer.clear.eq(1) for layer in layers]
                        m.next = "CLEAR"
        with state("ABORT", abortable=False):
            m.d.comb += [layer.abort.eq(1) for layer in layers]
            m.d.sync += [step.spike_valid.eq(0), step.word.eq(0), *(unsent.eq(0) for unsent in step.unsent)]
            m.next = "CLEAR"
        with state("CLEAR", abortable=False):
            units = [*(layer.busy for layer in layers), *(layer.scanning for layer in layers), step.softmax.busy]
            if step.back is not None:
                units.append(step.back.busy)
            # No event arrives here, so the input bitmap is cleared every cycle, not on the units' idle (its 512
            # enables would hang on every unit's busy flag).
            m.d.sync += step.inputs[0].eq(0)
            with m.If(~Cat(*units).any()):
                m.d.sync += [step.index.eq(0), step.labelled.eq(0), step.started.eq(0)]
                m.next = "RUN"


class _Step:
    """The engine's per-step and per-sample registers, and the learning units they feed."""

    def __init__(self, cfg: AcceleratorConfig):
        hidden, classes = cfg.network.hidden, cfg.network.n_classes
        logits = data.ArrayLayout(signed(logit_bits(cfg)), classes)
        self.inputs = [Signal(cfg.network.n_inputs, name="inputs"),  # each layer's input spikes of this step
                       *(Signal(n, name=f"spiked{index}") for index, n in enumerate(hidden))]
        # The transfer of a hidden layer's spikes: its groups with spikes not yet sent on, the spikes not yet sent
        # of the group being sent, and the next spike, on offer while ``spike_valid``.
        self.unsent = [Signal(max(groups, 2), name=f"unsent{index}") for index, groups in enumerate(cfg.groups[:-1])]
        self.word = Signal(cfg.lanes)
        self.word_group = Signal(range(max(*cfg.groups[:-1], 2)))
        self.spike_valid = Signal()
        self.spike = Signal(range(max(*hidden, 2)))
        tess = cfg.learning.rule == "tess"
        self.z = [Signal(logits, name=f"z{index}") if tess else None for index in range(len(hidden))]
        self.logits = Signal(logits)
        self.label, self.labelled = Signal(range(classes)), Signal()
        self.started = Signal()           # the sample has seen a word other than LABEL
        # The command on offer was on offer in RUN last cycle too (``waited``), and its input's bit then (``seen``).
        self.waited, self.seen = Signal(), Signal()
        self.index = Signal(cfg.readout.score_bits, name="step")
        self.softmax = SoftmaxError(cfg)
        self.softmax_source = Signal(range(len(hidden) + 1))  # 0: the readout's logits, l + 1: z of layer l
        self.readout_errors = Signal(self.softmax.errors_layout)
        self.hidden_errors = Signal(self.softmax.errors_layout)
        self.back = BackProjection(cfg) if cfg.learning.rule == "stllr" else None
        self.walk = Signal(range(max(*cfg.groups, 2)))
        self.walk_valid, self.factor_stage = Signal(), Signal()
        self.factor_group = Signal(range(max(*cfg.groups[:-1], 2)))
        self.transfer_layer = Signal(range(max(len(hidden), 2)))
        self.klass = Signal(range(classes))
        self.in_scores, self.ready = Signal(), Signal()
        self.refuse = None                # set by the FSM: no command is taken
