"""P-lane LIF core of one layer, time-multiplexed over its neurons.

Neurons sit P per memory word (group g holds neurons g*P .. g*P + P - 1), as
the weights do. An input event j costs ``groups`` cycles: each cycle reads
weight word j*groups + g and, two cycles later (the word read is held a cycle,
so a block RAM's output and an adder are not in one cycle), adds its P weights
into the P wide current accumulators of group g (never overflowing,
``AcceleratorConfig.accumulator_bits``).
``fire`` then walks the groups once, one per cycle, doing the rest of the
model's step for P neurons at a time (``docs/fixed-point.md``, "One time
step"): saturate the current and leak the membrane (the fire stage, a cycle
after the reads), integrate (a cycle later), then Psi, threshold and reset,
post trace (the write stage, a cycle later still, so no stage holds a chain
of more than a few adders); the readout instead adds its integrated logits to the scores.
Each group's result leaves on ``result`` for one cycle.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from eligo.config import AcceleratorConfig
from eligo_hw.arith import saturate
from eligo_hw.psi import PsiLookup
from eligo_hw.traces import PostTraceUnit


def lanes_of(shape, cfg: AcceleratorConfig) -> data.ArrayLayout:
    return data.ArrayLayout(shape, cfg.lanes)


class NeuronCore(wiring.Component):
    """Integrate events, then fire group by group; ``clear`` zeroes the per-sample state (a sample boundary).

    ``abort`` drops an event or a fire in progress and clears as ``clear``
    does (at most ``groups`` + 1 cycles).

    ``weight_addr``/``weight_data`` reach the layer's weight memory (one cycle
    latency) while ``weight_read`` is high (a register, so the layer can pick
    the memory's address with it). ``busy`` is high while an event, a fire or
    a clear is in flight. ``probe_addr`` reads a group's membranes, post traces
    and scores (one cycle latency) for checking; ``factor_addr`` reads the Psi
    and previous post trace of the last fire, which the learning phase needs.
    """

    def __init__(self, cfg: AcceleratorConfig, layer: int):
        self.cfg = cfg
        self.readout = layer == len(cfg.network.hidden)
        self.fmt = cfg.readout_neuron if self.readout else cfg.neuron
        self.n_in = cfg.network.layer_sizes[layer]
        self.groups = cfg.groups[layer]
        self.accumulator_bits = cfg.accumulator_bits[layer]
        group_range = range(max(self.groups, 2))
        membranes = lanes_of(signed(self.fmt.membrane_bits), cfg)
        self.layouts = {
            "membranes": membranes,
            "traces": lanes_of(unsigned(cfg.traces.bits), cfg),
            "psis": lanes_of(unsigned(cfg.psi.bits), cfg),
            "scores": lanes_of(signed(cfg.readout.score_bits), cfg),
            "accumulators": lanes_of(signed(self.accumulator_bits), cfg),
        }
        self.result_layout = data.StructLayout({
            "group": group_range,
            "integrated": membranes,
            "spikes": cfg.lanes,
        })
        super().__init__({
            "events": In(stream.Signature(range(self.n_in))),
            "weight_addr": Out(range(self.n_in * self.groups)),
            "weight_read": Out(1),
            "weight_data": In(lanes_of(signed(cfg.weight_bits), cfg)),
            "fire": In(1),
            "clear": In(1),
            "abort": In(1),
            "busy": Out(1),
            "result_valid": Out(1),
            "result": Out(self.result_layout),
            "probe_addr": In(group_range),
            "probe_membranes": Out(membranes),
            "probe_post": Out(self.layouts["traces"]),
            "probe_scores": Out(self.layouts["scores"]),
            "factor_addr": In(group_range),
            "factor_psi": Out(self.layouts["psis"]),
            "factor_post": Out(self.layouts["traces"]),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, fmt, groups, lanes = self.cfg, self.fmt, self.groups, self.cfg.lanes
        memories = {name: Memory(shape=layout, depth=groups, init=[]) for name, layout in self.layouts.items()
                    if not (self.readout and name in ("traces", "psis"))
                    and not (not self.readout and name == "scores")}
        for name, memory in memories.items():
            m.submodules[name] = memory
        acc_wr = memories["accumulators"].write_port()
        acc_rd = memories["accumulators"].read_port(transparent_for=(acc_wr,))
        mem_wr, mem_rd = memories["membranes"].write_port(), memories["membranes"].read_port()
        mem_probe = memories["membranes"].read_port()
        m.d.comb += [mem_probe.addr.eq(self.probe_addr), self.probe_membranes.eq(mem_probe.data)]

        # Integration: an accepted event issues its groups' reads one per cycle, from the cycle after it is taken
        # (the weight address comes from registers, not from the stream); the next stage holds the word read, the
        # one after adds. The next event is taken while the last group issues, so back-to-back events still cost
        # ``groups`` cycles each.
        issue = Signal()
        issue_row = Signal(range(self.n_in))
        issue_group = Signal(range(max(groups, 2)))
        fire_busy, clear_busy = Signal(), Signal()
        last = issue_group == groups - 1
        m.d.comb += self.events.ready.eq((~issue | last) & ~fire_busy & ~clear_busy)
        with m.If(issue & ~last):
            m.d.sync += issue_group.eq(issue_group + 1)
        with m.Elif(self.events.valid & self.events.ready):
            m.d.sync += [issue.eq(1), issue_row.eq(self.events.payload), issue_group.eq(0)]
        with m.Else():
            m.d.sync += issue.eq(0)
        m.d.comb += [self.weight_addr.eq(issue_row * groups + issue_group), self.weight_read.eq(issue)]
        fetch_valid, add_valid = Signal(), Signal()
        fetch_group, add_group = Signal(range(max(groups, 2))), Signal(range(max(groups, 2)))
        fetched = Signal.like(self.weight_data)
        m.d.sync += [fetch_valid.eq(issue), fetch_group.eq(issue_group), fetched.eq(self.weight_data),
                     add_valid.eq(fetch_valid), add_group.eq(fetch_group)]

        # Fire and clear walk the groups; the fire stage computes one cycle after its reads.
        walk_group = Signal(range(max(groups, 2)))
        fire_valid = Signal()
        fire_group = Signal(range(max(groups, 2)))
        m.d.sync += fire_valid.eq(0)
        # The fire stage saturates the current and leaks the membrane one cycle after its reads, the integrate
        # stage adds them the next, and the write stage fires and writes back the one after.
        integrate_valid, write_valid = Signal(), Signal()
        integrate_group, write_group = Signal(range(max(groups, 2))), Signal(range(max(groups, 2)))
        m.d.sync += [integrate_valid.eq(fire_valid), integrate_group.eq(fire_group),
                     write_valid.eq(integrate_valid), write_group.eq(integrate_group)]
        with m.If(fire_busy | clear_busy):
            with m.If(walk_group == groups - 1):
                m.d.sync += [fire_busy.eq(0), clear_busy.eq(0), walk_group.eq(0)]
            with m.Else():
                m.d.sync += walk_group.eq(walk_group + 1)
        with m.If(fire_busy):
            m.d.sync += [fire_valid.eq(1), fire_group.eq(walk_group)]
        with m.If(self.fire):
            m.d.sync += fire_busy.eq(1)
        with m.If(self.clear | self.abort):
            m.d.sync += clear_busy.eq(1)
        with m.If(self.abort):
            m.d.sync += [issue.eq(0), fetch_valid.eq(0), add_valid.eq(0), fire_busy.eq(0), fire_valid.eq(0),
                         integrate_valid.eq(0), write_valid.eq(0), walk_group.eq(0)]
        m.d.comb += [
            self.busy.eq(issue | fetch_valid | add_valid | fire_busy | fire_valid | integrate_valid | write_valid
                         | clear_busy),
            acc_rd.addr.eq(Mux(fire_busy, walk_group, fetch_group)),
            mem_rd.addr.eq(walk_group),
        ]

        with m.If(add_valid):
            m.d.comb += [acc_wr.en.eq(1), acc_wr.addr.eq(add_group)]
            for lane in range(lanes):
                m.d.comb += acc_wr.data[lane].eq(acc_rd.data[lane] + fetched[lane])
        with m.If(fire_valid | clear_busy):  # fire empties the accumulators it read; clear empties them all
            m.d.comb += [acc_wr.en.eq(1), acc_wr.addr.eq(Mux(clear_busy, walk_group, fire_group)), acc_wr.data.eq(0)]

        integrated = Signal(self.layouts["membranes"])  # registered: the write stage's input
        spikes = Signal(lanes)
        after = Signal(self.layouts["membranes"])
        for lane in range(lanes):
            v = mem_rd.data[lane]
            leaked = Signal(signed(fmt.membrane_bits + 1), name=f"leaked{lane}")
            current = Signal(signed(fmt.input_bits), name=f"current{lane}")
            m.d.sync += [leaked.eq(v - (v >> fmt.leak_shift)), current.eq(saturate(acc_rd.data[lane], fmt.input_bits)),
                         integrated[lane].eq(saturate(leaked + current, fmt.membrane_bits))]
            fired = integrated[lane] >= fmt.threshold
            m.d.comb += spikes[lane].eq(0 if self.readout else fired)
            if self.readout:
                reset_value = integrated[lane]
            elif fmt.reset == "subtract":
                reset_value = Mux(fired, integrated[lane] - fmt.threshold, integrated[lane])
            else:
                reset_value = Mux(fired, 0, integrated[lane])
            m.d.comb += after[lane].eq(reset_value)
        m.d.comb += [
            self.result_valid.eq(write_valid),
            self.result.group.eq(write_group),
            self.result.integrated.eq(integrated),
            self.result.spikes.eq(spikes),
            mem_wr.en.eq(write_valid | clear_busy),
            mem_wr.addr.eq(Mux(clear_busy, walk_group, write_group)),
            mem_wr.data.eq(Mux(clear_busy, 0, after.as_value())),
        ]
        if self.readout:
            self._scores(m, memories["scores"], integrated, write_valid, write_group, clear_busy, walk_group)
        else:
            self._traces(m, memories, integrated, write_valid, write_group, clear_busy, walk_group)
        return m

    def _scores(self, m, memory, integrated, write_valid, write_group, clear_busy, walk_group):
        """score <- sat(score + logits), read with the membranes and written back in the write stage."""
        score_wr, score_rd, probe = memory.write_port(), memory.read_port(), memory.read_port()
        early, held = Signal.like(score_rd.data), Signal.like(score_rd.data)  # with the fire, integrate stages
        m.d.sync += [early.eq(score_rd.data), held.eq(early)]
        m.d.comb += [score_rd.addr.eq(walk_group), probe.addr.eq(self.probe_addr), self.probe_scores.eq(probe.data),
                     score_wr.en.eq(write_valid | clear_busy),
                     score_wr.addr.eq(Mux(clear_busy, walk_group, write_group))]
        with m.If(~clear_busy):
            for lane in range(self.cfg.lanes):
                m.d.comb += score_wr.data[lane].eq(saturate(held[lane] + integrated[lane], self.cfg.readout.score_bits))

    def _traces(self, m, memories, integrated, write_valid, write_group, clear_busy, walk_group):
        """Psi of the integrated membrane and the post trace; the previous post trace is kept for learning."""
        cfg = self.cfg
        post_wr, post_rd, post_probe = (memories["traces"].write_port(), memories["traces"].read_port(),
                                        memories["traces"].read_port())
        psis = memories["psis"]
        psi_wr, psi_rd = psis.write_port(), psis.read_port()
        m.submodules.previous = previous = Memory(shape=self.layouts["traces"], depth=self.groups, init=[])
        prev_wr, prev_rd = previous.write_port(), previous.read_port()
        early, held = Signal.like(post_rd.data), Signal.like(post_rd.data)  # read with the membranes, for the write
        m.d.sync += [early.eq(post_rd.data), held.eq(early)]                  # stage two cycles later
        m.d.comb += [
            post_rd.addr.eq(walk_group), post_probe.addr.eq(self.probe_addr), self.probe_post.eq(post_probe.data),
            psi_rd.addr.eq(self.factor_addr), prev_rd.addr.eq(self.factor_addr),
            self.factor_psi.eq(psi_rd.data), self.factor_post.eq(prev_rd.data),
            post_wr.en.eq(write_valid | clear_busy), post_wr.addr.eq(Mux(clear_busy, walk_group, write_group)),
            psi_wr.en.eq(write_valid), psi_wr.addr.eq(write_group),
            prev_wr.en.eq(write_valid), prev_wr.addr.eq(write_group), prev_wr.data.eq(held),
        ]
        for lane in range(cfg.lanes):
            psi = PsiLookup(cfg.neuron, cfg.psi)
            post = PostTraceUnit(cfg.traces, cfg.psi)
            m.submodules[f"psi{lane}"], m.submodules[f"post{lane}"] = psi, post
            m.d.comb += [psi.integrated.eq(integrated[lane]), psi_wr.data[lane].eq(psi.psi),
                         post.trace.eq(held[lane]), post.psi.eq(psi.psi)]
            with m.If(~clear_busy):
                m.d.comb += post_wr.data[lane].eq(post.updated)
