"""The accelerator top: register file, event-word stream in, output packets out, the layer engine inside.

It makes the chip behave, on its bus and streams, exactly as the driver's
``model`` transport (``eligo.driver.model``) says, whatever the engine does
differently:

* ``s_axis`` (32-bit event words) is taken only after COMMAND.start and only
  when the datapath can take the word, so back-pressure holds events, never
  loses them (EVENTS_DROPPED is structurally 0). TLAST on input is ignored:
  the word grammar marks samples.
* ``WordDecoder`` rejects reserved opcodes and out-of-range addresses; a
  sequence check then rejects what breaks ``LABEL? (EVENT* TICK)+ END``
  (a LABEL not first or naming no class, a TICK whose payload is not the
  step's number, an END with no step or with events after the last TICK).
  The engine rejects an input repeated in its step. Each rejected word counts
  once in BAD_WORDS and raises its ERROR cause. Without CONTROL.learn_enable a
  good LABEL is checked but not passed on, so the engine runs the sample
  unlabelled.
* ``m_axis``: the engine sends hidden spikes one by one and class scores at
  END; the packetiser counts the spikes and sends one packet per END: the END
  word, the scores, the hidden spike count, TLAST on the last word.
* Weights: WEIGHT_ADDR names a 32-bit slice of a memory word; COMMAND.write_weight
  is a read-modify-write of that word, WEIGHT_RDATA the slice of the word read.
  The engine's weight port is the host's only while the engine is idle, so a
  write waits for it and a WEIGHT_RDATA read is held (ARREADY low) until it is;
  meanwhile stream words are held so the engine gets there, and a write of
  WEIGHT_ADDR, WEIGHT_WDATA or COMMAND is held (AWREADY low) until the weight
  write is done. An engine stalled
  on an undrained output stream never does: read weights between samples.
* Counters count what the engine's and decoder's own counters count (from
  their ``counting``/``rejecting`` strobes, one cycle later), so
  COMMAND.clear_counters needs no port on them and theirs, never read here,
  are left out by synthesis. Cycle
  counters: CYCLES_INTEGRATE = the engine's integrate phase, CYCLES_FIRE = its
  fire, readout and trace phases, CYCLES_LEARN = its learn phase (scores at
  END and output stalls are in none). They are the engine's real costs, not the
  model transport's ideal schedule, so they differ from it.
* COMMAND.reset_sample in the middle of a sample (a word of it taken, its
  END not) aborts it: ERROR.sample_aborted is raised, no packet is sent, and
  the words that follow, up to and including the next END, are taken and
  dropped, each counted in ABORTED_WORDS (words the decoder rejects count in
  BAD_WORDS as always). If the engine has taken a word of the sample, its
  ``abort`` clears its sample state (a weight update under way finishes
  first) and the packetiser forgets the sample's spikes; before that the
  engine may still be sending the last sample's scores, which must not be cut.
  No word is taken in the cycle of the command. Outside a sample the command
  only clears the (already clear) sequence state.
"""

from __future__ import annotations

import torch
from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from eligo.config import AcceleratorConfig
from eligo.layout import WeightLayout, score_words
from eligo.regmap import COUNTERS, DATA_BITS, build_register_map
from eligo.words import PAYLOAD_BITS, Opcode
from eligo_hw.arith import select
from eligo_hw.axil import AxiLiteRegisters, AxiLiteSignature
from eligo_hw.layer_engine import LayerEngine, output_layout
from eligo_hw.skid import SkidBuffer
from eligo_hw.words import Command, Kind, WordDecoder, delay_line, delayed, saturating_add, saturating_increment

AxiStreamSignature = wiring.Signature({"tdata": Out(DATA_BITS), "tvalid": Out(1), "tready": In(1), "tlast": Out(1)})
"""An AXI-Stream of 32-bit words with TLAST, seen from the sender."""


class Accelerator(wiring.Component):
    """The whole chip for ``cfg``: ``s_axil`` registers, ``s_axis`` event words, ``m_axis`` output packets.

    ``single_port_layers``: the layers whose weights sit in single-port memory (``LayerEngine``).
    ``stream_slices=False`` leaves out the register slices on the word stream (``SkidBuffer``): the same
    behaviour, with the handshake combinational from the event queue to the engine, for a slow, small part.
    """

    def __init__(self, cfg: AcceleratorConfig, single_port_layers: tuple[int, ...] = (), stream_slices: bool = True):
        self.cfg, self.stream_slices = cfg, stream_slices
        self.regmap = build_register_map(cfg)
        self.layout = WeightLayout(cfg)
        sizes = cfg.network.layer_sizes
        zeros = [torch.zeros(n_in, groups, cfg.lanes, dtype=torch.int64)
                 for n_in, groups in zip(sizes[:-1], cfg.groups)]
        self.engine = LayerEngine(cfg, zeros, single_port_layers=single_port_layers)
        super().__init__({"s_axil": In(AxiLiteSignature()), "s_axis": In(AxiStreamSignature),
                          "m_axis": Out(AxiStreamSignature)})

    def elaborate(self, platform):
        m = Module()
        cfg, regmap = self.cfg, self.regmap
        m.submodules.registers = regs = AxiLiteRegisters(regmap)
        m.submodules.decoder = decoder = WordDecoder(cfg.network.n_inputs)
        m.submodules.engine = engine = self.engine
        # The bus goes straight to the register file, except that a read of WEIGHT_RDATA waits for fresh data and
        # a write of WEIGHT_ADDR, WEIGHT_WDATA or COMMAND waits (AWREADY low) while a weight write waits for the
        # port: the write must not move under it, nor a second one merge into it.
        weight_read_allowed, write_allowed = Signal(), Signal()
        for name, member in AxiLiteSignature().members.items():  # flows as the master sees them
            if name in ("arvalid", "arready", "awvalid", "awready"):
                continue
            outer, inner = getattr(self.s_axil, name), getattr(regs.s_axil, name)
            m.d.comb += inner.eq(outer) if member.flow == Out else outer.eq(inner)
        m.d.comb += [regs.s_axil.arvalid.eq(self.s_axil.arvalid & weight_read_allowed),
                     self.s_axil.arready.eq(regs.s_axil.arready & weight_read_allowed),
                     regs.s_axil.awvalid.eq(self.s_axil.awvalid & write_allowed),
                     self.s_axil.awready.eq(regs.s_axil.awready & write_allowed)]

        command = regmap["COMMAND"]
        pulse = {f.name: regs.command[f.lsb] for f in command.fields}
        learn_enable = regs.control[regmap["CONTROL"].field("learn_enable").lsb]
        decay_field = regmap["CONTROL"].field("lr_decay")
        lr_decay = regs.control[decay_field.lsb:decay_field.lsb + decay_field.width]
        most = cfg.learning.max_lr_decay  # a larger value acts as the largest, as the register map says
        m.d.comb += engine.lr_decay.eq(Mux(lr_decay > most, most, lr_decay))
        raised = {f.name: Signal(name=f"raise_{f.name}") for f in regmap["ERROR"].fields}
        counters = {name.lower(): Signal(DATA_BITS, name=f"count_{name.lower()}")
                    for name, _ in COUNTERS if name != "EVENTS_DROPPED"}  # structurally 0: tied off below
        # What each counter adds in a cycle: one event, or the weight words the update banks visit.
        counted = {name: Signal(range((len(cfg.network.layer_sizes) - 1) * cfg.banks + 1)
                                if name == "updates_applied" else 1, name=f"counted_{name}")
                   for name in counters}

        # Input: nothing is taken before COMMAND.start or while the host waits for the weight port.
        running, host_waiting = Signal(), Signal()  # host_waiting: for the weight port
        with m.If(pulse["start"]):
            m.d.sync += running.eq(1)
        # Register slices on the stream after the decoder and before the engine: the decoder's checks, the
        # sequence check and the engine's ready are then three short paths, not one.
        m.submodules.decoded = decoded = SkidBuffer(Command, self.stream_slices)
        m.submodules.to_engine = to_engine = SkidBuffer(Command, self.stream_slices)
        m.d.comb += [decoder.words.payload.eq(self.s_axis.tdata),
                     decoder.words.valid.eq(self.s_axis.tvalid & running),
                     self.s_axis.tready.eq(decoder.words.ready & running)]
        wiring.connect(m, decoder.commands, decoded.i)

        # Sequence check between the decoder and the engine.
        word = decoded.o.payload
        in_sample, stepped, step_events = Signal(), Signal(), Signal()
        step = Signal(PAYLOAD_BITS)
        is_label, is_tick, is_end, is_event = (word.kind == kind for kind in (Kind.LABEL, Kind.TICK, Kind.END,
                                                                             Kind.EVENT))
        out_of_sequence = ((is_label & (in_sample | (word.payload >= cfg.network.n_classes)))
                           | (is_tick & (word.payload != step))
                           | (is_end & (~stepped | step_events)))
        swallowed = is_label & ~learn_enable  # checked, but the engine runs the sample unlabelled
        discarding = Signal()  # the rest of an aborted sample, up to its END
        # The engine took a word of this sample, so it is done with the last one (its scores all left): only
        # then is there engine state and are there counted spikes to drop, and no earlier packet to cut short.
        engine_in_sample = Signal()
        aborting = pulse["reset_sample"] & in_sample
        # Words between the check and the engine belong to one sample: nothing follows an END into the slice, so an
        # abort flushes only words of the sample it aborts.
        end_held = Signal()
        forward = ~out_of_sequence & ~swallowed & ~host_waiting & ~discarding & ~end_held
        # No word moves in the cycle of COMMAND.reset_sample.
        m.d.comb += [to_engine.i.payload.eq(word),
                     to_engine.i.valid.eq(decoded.o.valid & forward & ~pulse["reset_sample"]),
                     decoded.o.ready.eq(~pulse["reset_sample"]
                                        & Mux(discarding, 1,
                                              Mux(forward, to_engine.i.ready,
                                                  out_of_sequence | (swallowed & ~host_waiting & ~end_held)))),
                     engine.commands.payload.eq(to_engine.o.payload),
                     engine.commands.valid.eq(to_engine.o.valid & ~pulse["reset_sample"]),
                     to_engine.o.ready.eq(engine.commands.ready & ~pulse["reset_sample"]),
                     to_engine.flush.eq(aborting),
                     engine.abort.eq(aborting & engine_in_sample)]
        taken = decoded.o.valid & decoded.o.ready
        engine_took = engine.commands.valid & engine.commands.ready
        engine_word = to_engine.o.payload
        dropped = taken & discarding
        good = taken & ~out_of_sequence & ~discarding
        end_index = Signal(PAYLOAD_BITS)
        with m.If(good):
            m.d.sync += in_sample.eq(1)
            with m.If(is_event):
                m.d.sync += step_events.eq(1)
            with m.If(is_tick):
                m.d.sync += [step.eq(step + 1), stepped.eq(1), step_events.eq(0)]
            with m.If(is_end):
                m.d.sync += [in_sample.eq(0), stepped.eq(0), step.eq(0)]
        with m.If(to_engine.i.valid & to_engine.i.ready & is_end):
            m.d.sync += end_held.eq(1)
        with m.If(engine_took):
            m.d.sync += engine_in_sample.eq(engine_word.kind != Kind.END)
            with m.If(engine_word.kind == Kind.END):
                m.d.sync += [end_index.eq(engine_word.payload), end_held.eq(0)]
        with m.If(dropped & is_end):
            m.d.sync += discarding.eq(0)
        with m.If(pulse["reset_sample"]):
            m.d.sync += [in_sample.eq(0), stepped.eq(0), step_events.eq(0), step.eq(0), engine_in_sample.eq(0)]
        with m.If(aborting):
            m.d.sync += discarding.eq(1)

        # An event the engine took counts in EVENTS_IN unless the engine found it repeated in its step.
        event_taken = delayed(m, engine_took & (engine_word.kind == Kind.EVENT), name="event_taken")
        counting = engine.counting
        duplicate = delayed(m, counting.duplicate_event)
        bad_opcode, bad_address = delayed(m, decoder.rejecting.opcode), delayed(m, decoder.rejecting.address)
        # Counted a cycle after the word is taken, as the engine's and decoder's strobes are: the counters' enables
        # are not on the stream handshake's path.
        rejected_here = delayed(m, taken & out_of_sequence & ~discarding)
        m.d.comb += [
            raised["bad_opcode"].eq(bad_opcode), raised["bad_address"].eq(bad_address),
            raised["bad_sequence"].eq(rejected_here | duplicate), raised["sample_aborted"].eq(aborting),
            counted["aborted_words"].eq(delayed(m, dropped)),
            counted["events_in"].eq(event_taken & ~duplicate),
            counted["bad_words"].eq(bad_opcode | bad_address | rejected_here | duplicate),
            counted["samples"].eq(delayed(m, good & is_end)),
            counted["cycles_integrate"].eq(delayed(m, counting.integrate)),
            counted["cycles_fire"].eq(delayed(m, counting.fire | counting.readout | counting.traces)),
            counted["cycles_learn"].eq(delayed(m, counting.learn)),
            counted["updates_applied"].eq(delayed(m, counting.learn_word)),
        ]
        for name, counter in counters.items():
            with m.If(pulse["clear_counters"]):
                m.d.sync += counter.eq(0)
            with m.Else():
                saturating_add(m, counter, counted[name])
            m.d.comb += getattr(regs, name).eq(counter)
        m.d.comb += regs.events_dropped.eq(0)

        self._weights(m, regs, engine, pulse["write_weight"], host_waiting, weight_read_allowed, write_allowed,
                      raised["bad_weight_address"])
        m.submodules.packetiser = packetiser = OutputPacketiser(cfg)
        wiring.connect(m, engine.output, packetiser.items)
        wiring.connect(m, packetiser.m_axis, wiring.flipped(self.m_axis))
        m.d.comb += [packetiser.end_index.eq(end_index), packetiser.clear.eq(aborting & engine_in_sample)]

        m.d.comb += [
            regs.error_set.eq(Cat(raised[f.name] for f in sorted(regmap["ERROR"].fields, key=lambda f: f.lsb))),
            regs.status.eq(Cat(in_sample | discarding | ~engine.idle, regs.error.any())),
        ]
        return m

    def _weights(self, m, regs, engine, write_pulse, host_waiting, read_allowed, write_allowed, bad_address):
        """WEIGHT_* registers on the engine's weight port, which is the host's only while the engine is idle.

        The port's word is read when the engine was idle last cycle, with WEIGHT_ADDR unchanged and no write. It is
        held a cycle, then its slice (for WEIGHT_RDATA) and the word to write (it with WEIGHT_WDATA in its slice)
        are held a cycle more: a block RAM's output, the slice selects, the register file's read mux and the inputs
        of every layer's memories are then never in one cycle. An AXI read of WEIGHT_RDATA is not taken (ARREADY
        low) before the slice is held; a write_weight waits for that and the engine idle this cycle, then writes.
        While the host waits, stream words are held so the engine reaches idle.
        """
        cfg, layout, regmap = self.cfg, self.layout, self.regmap
        address = regmap["WEIGHT_ADDR"]
        layer_field, index_field = address.field("layer"), address.field("index")
        layer = regs.weight_addr[layer_field.lsb:layer_field.lsb + layer_field.width]
        index = regs.weight_addr[index_field.lsb:index_field.lsb + index_field.width]
        slice_bits = (layout.slices_per_word - 1).bit_length()
        word_address, slice_select = index[slice_bits:], index[:slice_bits]
        in_range = Cat((layer == n) & (index < layout.n_slices(n)) for n in range(layout.n_layers)).any()
        lane_bits = layout.per_slice * cfg.weight_bits
        host = engine.weights
        stored = delayed(m, host.rdata.as_value(), name="held_word")
        held_rdata = delayed(m, Mux(in_range, stored.word_select(slice_select, lane_bits), 0), name="held_rdata")
        held_wdata = delayed(m, Cat(Mux(slice_select == s, regs.weight_wdata[:lane_bits],
                                        stored.word_select(s, lane_bits))
                                    for s in range(layout.slices_per_word)), name="held_wdata")
        m.d.comb += [host.layer.eq(layer), host.addr.eq(word_address), regs.weight_rdata.eq(held_rdata),
                     host.wdata.eq(held_wdata)]

        idle_before, wrote_before, address_before = Signal(), Signal(), Signal.like(regs.weight_addr)
        m.d.sync += [idle_before.eq(engine.idle), wrote_before.eq(host.we),
                     address_before.eq(regs.weight_addr)]
        # The port's address was the host's last cycle, so its word is on ``rdata`` now: a read needs no more, and
        # depends on registers only; a write also needs the engine idle now.
        word_read = idle_before & ~wrote_before & (address_before == regs.weight_addr)
        # ``held_rdata`` and ``held_wdata`` hold that word two cycles later, unless the address moved or a write
        # came between.
        word_held = Cat(word_read, *delay_line(m, word_read, 2, name="word_held")).all()
        write_pending = Signal()
        with m.If(write_pulse & in_range):
            m.d.sync += write_pending.eq(1)
        with m.If(write_pending & engine.idle & word_held):
            m.d.comb += host.we.eq(1)
            m.d.sync += write_pending.eq(0)

        rdata_word = self.regmap["WEIGHT_RDATA"].offset >> 2
        reads_weight = self.s_axil.arvalid & (self.s_axil.araddr[2:] == rdata_word)
        m.d.comb += [read_allowed.eq(~reads_weight | word_held | ~in_range),
                     write_allowed.eq(~self.s_axil.awaddr[2:].matches(*(regmap[name].offset >> 2 for name in
                                                                         ("WEIGHT_ADDR", "WEIGHT_WDATA", "COMMAND")))
                                      | ~((write_pulse & in_range) | write_pending))]
        m.d.sync += host_waiting.eq((write_pending & ~host.we) | (write_pulse & in_range)
                                    | (reads_weight & ~word_held))
        read_taken = reads_weight & self.s_axil.arready
        m.d.comb += bad_address.eq((write_pulse | read_taken) & ~in_range)


class OutputPacketiser(wiring.Component):
    """Hidden spikes on ``items`` are counted per layer; at END (the class scores on ``items``) one packet leaves on
    ``m_axis``: the END word with ``end_index``, each score in ``score_words`` words, each hidden layer's spike
    count, TLAST on the last.
    ``clear`` (an aborted sample) forgets the spikes counted for the sample in progress, not those of a
    packet already being sent.

    Every ``m_axis`` signal is a flop (an output register after the word on offer), so the packet can cross
    a clock-domain or chip boundary without a combinational path from ``tready``.
    """

    def __init__(self, cfg: AcceleratorConfig):
        self.cfg = cfg
        super().__init__({"items": In(stream.Signature(output_layout(cfg))), "end_index": In(PAYLOAD_BITS),
                          "clear": In(1), "m_axis": Out(AxiStreamSignature)})

    def elaborate(self, platform):
        m = Module()
        out, items = self.m_axis, self.items
        per_score, classes = score_words(self.cfg), self.cfg.network.n_classes
        item = items.payload
        counts = [Signal(DATA_BITS, name=f"spike_count{layer}") for layer in range(len(self.cfg.network.hidden))]
        count_index = Signal(range(max(len(counts), 2)))  # the count on offer
        score_word = Signal(range(max(per_score, 2)))
        klass = Signal(range(max(classes, 2)))
        score = item.value.as_signed()
        wide_score = Cat(score, score[-1].replicate(DATA_BITS * per_score - len(score)))
        header = Const((int(Opcode.END) << PAYLOAD_BITS), DATA_BITS) | self.end_index
        state_scores = Signal()  # sending the scores
        state_count = Signal()  # the spike counts, the last words, are on offer
        count = select(counts, count_index)

        offer_valid, offer_ready = Signal(), Signal()
        offer_data, offer_last = Signal(DATA_BITS), Signal()
        m.d.comb += [
            offer_data.eq(Mux(state_count, count,
                              Mux(state_scores, wide_score.word_select(score_word, DATA_BITS), header))),
            offer_last.eq(state_count & (count_index == len(counts) - 1)),
            offer_valid.eq(state_count | (items.valid & item.score)),
            offer_ready.eq(~out.tvalid | out.tready),
            items.ready.eq(~state_count & (~item.score
                                           | (state_scores & offer_ready & (score_word == per_score - 1)))),
        ]
        with m.If(offer_ready):
            m.d.sync += [out.tvalid.eq(offer_valid), out.tdata.eq(offer_data), out.tlast.eq(offer_last)]
        # A spike is counted the cycle after it is taken (the engine's handshake and the counters' enables in
        # separate cycles); one taken as ``clear`` forgets the sample is not counted, as before.
        spike_taken, spike_layer = Signal(name="spike_taken"), Signal.like(item.layer, name="spike_layer")
        m.d.sync += [spike_taken.eq(items.valid & items.ready & ~item.score & ~self.clear),
                     spike_layer.eq(item.layer)]
        for layer, spike_count in enumerate(counts):
            saturating_increment(m, spike_count, spike_taken & (spike_layer == layer))
        accepted = offer_valid & offer_ready
        with m.If(accepted):
            with m.If(offer_last):
                m.d.sync += [state_count.eq(0), count_index.eq(0), *(spike_count.eq(0) for spike_count in counts)]
            with m.Elif(state_count):
                m.d.sync += count_index.eq(count_index + 1)
            with m.Elif(~state_scores):
                m.d.sync += [state_scores.eq(1), score_word.eq(0), klass.eq(0)]
            with m.Elif(score_word == per_score - 1):
                m.d.sync += [score_word.eq(0), klass.eq(klass + 1)]
                with m.If(klass == classes - 1):
                    m.d.sync += [state_scores.eq(0), state_count.eq(1)]
            with m.Else():
                m.d.sync += score_word.eq(score_word + 1)
        with m.If(self.clear & ~state_count):
            m.d.sync += [spike_count.eq(0) for spike_count in counts]
        return m
