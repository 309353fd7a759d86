"""Weight-update datapath: P lanes of ``update_word`` and the sequencer of ``update_layer``.

A layer's weights live P per memory word (address = j * groups + g), its
pre traces P per word too (input j in word j // P). The sequencer visits
exactly the words the model visits (row j with q_j != 0, group g with a
non-zero factor in any lane; j outer, g inner), steps its bank's LFSRs
once per visit and writes each word back three cycles after reading it (a
cycle to hold what was read, one for the lanes' multiply and rounding noise,
one to shift, add and saturate), so it sustains one word per cycle. It reads
P pre traces at a time: the active rows of a word follow one another without
a gap, and a word whose P traces are all zero costs one cycle. With B update
banks (``cfg.banks``) B such sequencers walk their own rows at once.

With ``single_port`` the weight memory has one port (the iCE40 UP5K's
SB_SPRAM256KA): no word is read in a cycle that writes one, so the walk
averages two cycles per word (three reads, then their three writes). On iCE40 the memory is built from SPRAM
primitives; elsewhere (and in simulation) it is an Amaranth ``Memory``
used through one address. SPRAM cannot be initialised, so after reset the
memory writes its initial words itself (one a cycle, ``busy`` high).
"""

from __future__ import annotations

import random

import torch
from amaranth.hdl import (Array, Cat, ClockSignal, Const, Elaboratable, Instance, Module, Mux, Shape, Signal, Value,
                          signed, unsigned)
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from eligo.config import AcceleratorConfig
from eligo.fixed.lfsr import walk_registers
from eligo_hw.arith import product_of_held, saturate, select
from eligo_hw.lfsr import LfsrBank
from eligo_hw.traces import pre_words
from eligo_hw.words import delay_line, delayed, saturating_increment


def factor_bits(cfg: AcceleratorConfig) -> int:
    """Signed width holding both L*Psi and alpha_post*L*h (and the readout error e)."""
    return cfg.learning.signal_bits + max(cfg.psi.bits, cfg.traces.bits)


class Layouts:
    """The data layouts of one layer's update, all derived from the config."""

    def __init__(self, cfg: AcceleratorConfig):
        self.word = data.ArrayLayout(signed(cfg.weight_bits), cfg.lanes)
        self.factors = data.StructLayout({
            "causal": data.ArrayLayout(signed(factor_bits(cfg)), cfg.lanes),
            "noncausal": data.ArrayLayout(signed(factor_bits(cfg)), cfg.lanes),
        })
        self.pre = data.StructLayout({"trace": unsigned(cfg.traces.bits), "spike": 1})
        self.pre_word = data.ArrayLayout(self.pre, cfg.lanes)
        self.noise = data.ArrayLayout(unsigned(cfg.lfsr.bits), cfg.lanes)
        self.bank_noise = data.ArrayLayout(self.noise, cfg.banks)


def rounding_noise(noise: Value, shift: int) -> Value:
    """``eligo.fixed.blocks.rounding_noise`` at a fixed shift: the low ``shift`` bits of the LFSR state, or the
    whole state moved up into the top of the lost bits when the shift is wider than the register."""
    if shift <= len(noise):
        return noise[:shift]
    return Cat(Const(0, shift - len(noise)), noise)


def lanes_latency(cfg: AcceleratorConfig) -> int:
    """Cycles from an ``UpdateLanes`` input to its ``updated`` word."""
    return 3 if cfg.registered_products else 2


class UpdateLanes(wiring.Component):
    """One word's new value: w_l <- sat(w_l + ((causal_l q + noncausal_l x + r_l) >> s)), s = shift + decay.

    ``decay`` is the run-time learning-rate decay (``CONTROL.lr_decay``): the
    shift is a barrel shifter over its max_lr_decay + 1 values, and r_l the
    LFSR noise that rounds at that shift (``rounding_noise``). ``updated``
    follows its inputs by ``latency`` cycles: the inputs (memory read data)
    are registered first, on ECP5 the multiplier's operands in its DSP
    (``arith.product_of_held``); the rounded products are registered before
    the shift, so multiply-and-round and shift-add-saturate are in different
    cycles; with ``cfg.registered_products`` the multiplier's product is
    registered at its output too (the non-causal term and the noise beside
    it), and added the next cycle.
    """

    def __init__(self, cfg: AcceleratorConfig, shift: int):
        self.cfg = cfg
        self.shift = shift
        self.latency = lanes_latency(cfg)
        layouts = Layouts(cfg)
        super().__init__({
            "word": In(layouts.word),
            "factors": In(layouts.factors),
            "pre": In(layouts.pre),
            "noise": In(layouts.noise),
            "decay": In(range(cfg.learning.max_lr_decay + 1)),
            "updated": Out(layouts.word),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        shifts = [self.shift + decay for decay in range(cfg.learning.max_lr_decay + 1)]
        factors, pre = delayed(m, self.factors, 1, "held_factors"), delayed(m, self.pre, 1, "held_pre")
        noise, held_decay = delayed(m, self.noise, 1, "held_noise"), delayed(m, self.decay, 1, "held_decay")
        decay = delayed(m, held_decay, self.latency - 1, "decay")
        for lane in range(cfg.lanes):
            causal = product_of_held(m, platform, self.factors.causal[lane], self.pre.trace, f"lane{lane}_causal")
            beside = (Mux(pre.spike, factors.noncausal[lane], 0)
                      + Array(rounding_noise(noise[lane], shift) for shift in shifts)[held_decay])
            if cfg.registered_products:
                product = Signal.like(causal, name=f"lane{lane}_product")
                addend = Signal.like(beside, name=f"lane{lane}_addend")
                m.d.sync += [product.eq(causal), addend.eq(beside)]
                causal, beside = product, addend
            total = Signal.like(causal + beside, name=f"lane{lane}_sum")
            m.d.sync += total.eq(causal + beside)
            word = delayed(m, self.word[lane], self.latency, f"lane{lane}_weight")
            # Shifted by at least ``shift``, the change fits in that many bits fewer.
            width = len(total) - self.shift
            change = Array((total >> shift)[:width].as_signed() for shift in shifts)[decay]
            m.d.comb += self.updated[lane].eq(saturate(word + change, cfg.weight_bits))
        return m


SPRAM_ADDRESS_BITS, SPRAM_WIDTH = 14, 16
SPRAM_DEPTH = 1 << SPRAM_ADDRESS_BITS


def power_up_garbage(layout: data.ArrayLayout, depth: int) -> list[list[int]]:
    """What undefined memory holds in simulation: a fixed pseudo-random word per address."""
    rng = random.Random(depth)
    bits = Shape.cast(layout.elem_shape).width
    return [[rng.randrange(-(1 << (bits - 1)), 1 << (bits - 1)) for _ in range(layout.length)]
            for _ in range(depth)]


class SinglePortMemory(Elaboratable):
    """A synchronous single-port memory: ``addr`` is read (``rdata`` next cycle) or, with ``we``, written.

    SPRAM cannot be initialised (its contents are undefined at power-up), so
    after reset the memory writes ``init`` to every word itself, one a cycle,
    with ``loading`` high and ``addr``/``we`` ignored: every build starts from
    the same weights. On an iCE40 platform it is ``ceil(width / 16)``
    SB_SPRAM256KA side by side (16K words deep) and ``init`` must be all zero,
    as the accelerator's top has it, so the walk writes a constant. Elsewhere
    it is a ``Memory`` whose read and write ports share the address (what is
    read in a write cycle is not used); in simulation (no platform) its
    power-up content is a pseudo-random pattern, so a bench that matches the
    model shows the walk ran.
    """

    def __init__(self, layout: data.ArrayLayout, depth: int, init: list[list[int]]):
        self.layout, self.depth, self.init = layout, depth, init
        self.addr = Signal(range(max(depth, 2)))
        self.we = Signal()
        self.wdata = Signal(layout)
        self.rdata = Signal(layout)
        self.loading = Signal(init=1)

    def elaborate(self, platform):
        on_ice40 = getattr(platform, "family", None) == "iCE40"
        zero_init = not any(any(word) for word in self.init)
        if on_ice40 and not zero_init:
            raise ValueError("SPRAM cannot be initialised: a single-port weight memory on iCE40 must start "
                             "from zero weights")
        if on_ice40 and self.depth > SPRAM_DEPTH:
            raise ValueError(f"a single-port weight memory of {self.depth} words is deeper than an SPRAM "
                             f"({SPRAM_DEPTH} words)")
        m = Module()
        fill = Signal.like(self.addr)
        if zero_init:
            initial = Const(0, self.layout.size)
        else:
            m.submodules.initial = initial_words = Memory(shape=self.layout, depth=self.depth, init=self.init)
            initial_read = initial_words.read_port(domain="comb")
            m.d.comb += initial_read.addr.eq(fill)
            initial = initial_read.data.as_value()
        with m.If(self.loading):
            m.d.sync += fill.eq(fill + 1)
            with m.If(fill == self.depth - 1):
                m.d.sync += self.loading.eq(0)
        addr, we = Mux(self.loading, fill, self.addr), self.loading | self.we
        wdata = Mux(self.loading, initial, self.wdata.as_value())
        if on_ice40:
            width = self.layout.size
            rdata = self.rdata.as_value()
            for index, low in enumerate(range(0, width, SPRAM_WIDTH)):
                high = min(low + SPRAM_WIDTH, width)
                part = Signal(SPRAM_WIDTH)
                m.submodules[f"spram{index}"] = Instance(
                    "SB_SPRAM256KA",
                    i_ADDRESS=Cat(addr, Const(0, SPRAM_ADDRESS_BITS - len(self.addr))),
                    i_DATAIN=Cat(wdata[low:high], Const(0, SPRAM_WIDTH - (high - low))),
                    i_MASKWREN=0b1111, i_WREN=we, i_CHIPSELECT=1, i_CLOCK=ClockSignal("sync"),
                    i_STANDBY=0, i_SLEEP=0, i_POWEROFF=1, o_DATAOUT=part)
                m.d.comb += rdata[low:high].eq(part)
        else:
            power_up = power_up_garbage(self.layout, self.depth) if platform is None else self.init
            m.submodules.memory = memory = Memory(shape=self.layout, depth=self.depth, init=power_up)
            read, write = memory.read_port(), memory.write_port()
            m.d.comb += [read.addr.eq(addr), write.addr.eq(addr), write.en.eq(we),
                         write.data.eq(wdata), self.rdata.eq(read.data)]
        return m


class LayerUpdate(wiring.Component):
    """A layer's weight memory with its update sequencer.

    Load the pre traces/spikes (``pre_*``, P inputs per word) and the
    per-group factors (``factor_*``) while idle, pulse ``start``; ``busy``
    stays high until the last word is written back. The walk shifts by the
    layer's shift plus ``decay``, taken at ``start`` (a host write of
    ``CONTROL.lr_decay`` never splits a walk). ``noise``/``lfsr_step`` connect
    each bank's LFSRs. While idle, ``weight_addr`` reads a word on
    ``weight_data`` (one cycle latency) and, with ``weight_we``, writes
    ``weight_wdata`` there; ``pre_read_addr`` reads a pre-trace word back the
    same way.
    ``visits`` and ``busy_cycles`` count for benchmarks. ``single_port``
    puts the weights in a ``SinglePortMemory`` and walks one word per two cycles;
    after reset ``busy`` is then high for n_in * groups / B cycles while the memory
    writes its initial words (a ``start`` meanwhile is not taken).

    With ``cfg.banks`` = B > 1 the memory is B memories, word (j, g) in bank
    (j mod R) * S + g mod S at (j div R) * (groups / S) + g div S
    (``cfg.bank_classes``), each walked by its own sequencer, lanes and LFSRs
    at the same time: up to B words a cycle. The host address j * groups + g
    is split by slicing its bits (the config requires power-of-two groups).
    """

    def __init__(self, cfg: AcceleratorConfig, layer: int, words: torch.Tensor, counter_bits: int = 32,
                 single_port: bool = False):
        self.cfg = cfg
        self.layer = layer
        self.single_port = single_port
        self.n_in = cfg.network.layer_sizes[layer]
        self.groups = cfg.groups[layer]
        expected = (self.n_in, self.groups, cfg.lanes)
        if tuple(words.shape) != expected:
            raise ValueError(f"layer {layer}: weight words must be {list(expected)}, got {list(words.shape)}")
        self.row_classes, self.group_classes = cfg.bank_classes(layer)
        self.bank_rows = -(-self.n_in // self.row_classes)
        self.bank_groups = self.groups // self.group_classes  # words of a row in one bank
        padded = torch.zeros(self.bank_rows * self.row_classes, self.groups, cfg.lanes, dtype=words.dtype)
        padded[:self.n_in] = words
        self.bank_words = [padded[row_class::self.row_classes, group_class::self.group_classes]
                           .reshape(-1, cfg.lanes).tolist()
                           for row_class in range(self.row_classes) for group_class in range(self.group_classes)]
        self.layouts = layouts = Layouts(cfg)
        depth = self.n_in * self.groups
        self.pre_words = pre_words(self.n_in, cfg.lanes)
        pre_range = range(max(self.pre_words, 2))
        super().__init__({
            "pre_we": In(1), "pre_addr": In(pre_range), "pre_data": In(layouts.pre_word),
            "factor_we": In(1), "factor_addr": In(range(max(self.groups, 2))), "factor_data": In(layouts.factors),
            "start": In(1), "decay": In(range(cfg.learning.max_lr_decay + 1)), "busy": Out(1),
            "noise": In(layouts.bank_noise), "lfsr_step": Out(cfg.banks),
            "weight_addr": In(range(depth)), "weight_data": Out(layouts.word),
            "weight_we": In(1), "weight_wdata": In(layouts.word),
            "pre_read_addr": In(pre_range), "pre_read_data": Out(layouts.pre_word),
            "visits": Out(counter_bits), "busy_cycles": Out(counter_bits),
        })

    def split_address(self, addr: Value) -> tuple[Value, Value]:
        """The bank of host word address ``addr`` (row j * groups + group) and its address in that bank."""
        if self.cfg.banks == 1:
            return Const(0, 1), addr
        bits = lambda n: (n - 1).bit_length()  # noqa: E731 (every count here is a power of two)
        group, row = addr[:bits(self.groups)], addr[bits(self.groups):]
        row_bits, group_bits = bits(self.row_classes), bits(self.group_classes)
        return Cat(group[:group_bits], row[:row_bits]), Cat(group[group_bits:], row[row_bits:])

    def elaborate(self, platform):
        m = Module()
        cfg, layouts, groups = self.cfg, self.layouts, self.groups
        # Beside each pre word, which of its lanes have a non-zero trace and whether each row class has one, worked
        # out as it is written: the walk's choices then wait on stored bits, not on P comparisons and their OR.
        pre_entry = data.StructLayout({"pres": layouts.pre_word, "nonzero": cfg.lanes, "occupied": self.row_classes})
        m.submodules.pres = pres = Memory(shape=pre_entry, depth=self.pre_words, init=[])
        m.submodules.factors = factors = Memory(shape=layouts.factors, depth=groups, init=[])
        walk_ports = [(pres.read_port(), factors.read_port()) for _ in range(cfg.banks)]
        pre_wr, pre_host = pres.write_port(), pres.read_port()
        m.d.comb += [pre_host.addr.eq(self.pre_read_addr), self.pre_read_data.eq(pre_host.data.pres)]
        factor_wr = factors.write_port()

        # Host-side loading; a group is active iff any lane's factor is non-zero.
        active = Signal(groups)
        factor_nonzero = (self.factor_data.as_value() != 0)
        nonzero = Cat(self.pre_data[lane].trace != 0 for lane in range(cfg.lanes))
        m.d.comb += [
            pre_wr.en.eq(self.pre_we), pre_wr.addr.eq(self.pre_addr), pre_wr.data.pres.eq(self.pre_data),
            pre_wr.data.nonzero.eq(nonzero),
            pre_wr.data.occupied.eq(Cat(self.rows_of(nonzero, row_class).any()
                                        for row_class in range(self.row_classes))),
            factor_wr.en.eq(self.factor_we), factor_wr.addr.eq(self.factor_addr), factor_wr.data.eq(self.factor_data),
        ]
        with m.If(self.factor_we):
            for g in range(groups):
                with m.If(self.factor_addr == g):
                    m.d.sync += active[g].eq(factor_nonzero)

        decay = Signal.like(self.decay)
        host_bank, host_local = self.split_address(self.weight_addr)
        walks = [self._walk(m, bank, pre_rd, factor_rd, active, decay, host_bank, host_local)
                 for bank, (pre_rd, factor_rd) in enumerate(walk_ports)]
        startable = self.start & active.any()
        if self.single_port:  # the memories write their initial words after reset: busy, and no walk starts
            startable &= ~Cat(walk.loading for walk in walks).any()
        m.d.comb += [walk.start.eq(startable & walk.active.any()) for walk in walks]
        with m.If(startable):
            m.d.sync += decay.eq(self.decay)
        m.d.comb += self.lfsr_step.eq(Cat(walk.visit for walk in walks))
        if len(walks) == 1:
            m.d.comb += [self.weight_data.eq(walks[0].read_data), self.visits.eq(walks[0].visits)]
        else:
            read_bank = Signal.like(host_bank)
            m.d.sync += read_bank.eq(host_bank)
            # Counted in each walk's VISIT state (registered conditions only: a sum of strobes can be X in Icarus
            # at time 0 and would poison the counter), and added up saturating.
            visits = sum(walk.visits for walk in walks)
            m.d.comb += [self.weight_data.eq(select([walk.read_data for walk in walks], read_bank)),
                         self.visits.eq(Mux(visits[len(self.visits):].any(), (1 << len(self.visits)) - 1, visits))]
        # One unconditional assignment, so Icarus sees busy from time 0 (the reset walk runs there).
        m.d.comb += self.busy.eq(Cat(walk.busy for walk in walks).any())
        saturating_increment(m, self.busy_cycles, self.busy)
        return m

    def rows_of(self, nonzero: Value, row_class: int) -> Value:
        """The lanes of ``nonzero`` (a lane mask) in row class ``row_class``; the others cleared."""
        return Cat(nonzero[lane] if lane % self.row_classes == row_class else Const(0)
                   for lane in range(self.cfg.lanes))

    def _walk(self, m: Module, bank: int, pre_rd, factor_rd, active: Signal, decay: Signal,
              host_bank: Value, host_local: Value) -> "_Walk":
        """Bank ``bank``'s memory and its walk over its words (``cfg.bank_classes``) of the rows with a non-zero pre
        trace and the groups that learn."""
        cfg, layouts, groups, lanes = self.cfg, self.layouts, self.groups, self.cfg.lanes
        n_words, depth = self.pre_words, self.bank_rows * self.bank_groups
        row_class, group_class = divmod(bank, self.group_classes)
        walk = _Walk(layouts, groups, len(self.visits))
        if self.single_port:
            m.submodules[f"weights{bank}"] = weights = SinglePortMemory(layouts.word, depth, self.bank_words[bank])
            m.d.comb += walk.loading.eq(weights.loading)
        else:
            m.submodules[f"weights{bank}"] = weights = Memory(shape=layouts.word, depth=depth,
                                                              init=self.bank_words[bank])
            weight_rd, weight_wr = weights.read_port(), weights.write_port()
        m.submodules[f"update_lanes{bank}"] = update_lanes = UpdateLanes(cfg, cfg.layer_shift(self.layer))

        def lowest(bits, width):
            """Whether any bit is set, and the index of the lowest one: a chain of Muxes over at most P or G
            bits (``arith.lowest_set``'s tree here cost the 128-32-8 ULX3S accelerator 60.1 -> 50.5 MHz)."""
            index = 0
            for i in reversed(range(width)):
                index = Mux(bits[i], i, index)
            return bits.any(), index

        def without_lowest(bits):
            """``bits`` less its lowest set bit: one carry chain beside ``lowest``'s, not after it."""
            return bits & (bits - 1)

        # This bank's groups (g mod S = its group class) that learn, and its rows (j mod R = its row class).
        m.d.comb += walk.active.eq(Cat(active[g] if g % self.group_classes == group_class else Const(0)
                                       for g in range(groups)))
        group = Signal(range(max(groups, 2)))
        groups_left = Signal(groups)           # the learning groups of the current row not visited yet
        more_groups = Signal()                 # groups_left.any(), held beside it
        _, first = lowest(walk.active, groups)
        _, following = lowest(groups_left, groups)

        # In SCAN the pre memory's output holds word ``word``; in VISIT it holds word ``word + 1``, a word ahead.
        # Its read address depends on registers only (the state, ``word``, and whether the visit leaves the word),
        # never on the word it has just read: the address after a read is known before the read's data is.
        word = Signal(range(max(n_words, 2)))
        next_word = Signal(range(max(n_words, 2)))
        m.d.comb += next_word.eq(word)
        m.d.sync += word.eq(next_word)
        last_word = word == n_words - 1
        word_pres = Signal(layouts.pre_word)   # the P pre traces of the current word
        pending = Signal(lanes)                # its active rows (of this bank) not visited yet
        more_rows = Signal()                   # pending.any(), held beside it
        # The current row's lane; its pre trace is selected from ``word_pres`` when it is used, so entering a row
        # waits on the lowest non-zero lane only, not on a P-way select after it.
        row_lane = Signal(range(lanes))
        row_pre = word_pres.as_value().word_select(row_lane, layouts.pre.size)
        row_base = Signal(range(depth))
        row_bits, group_bits = (self.row_classes - 1).bit_length(), (self.group_classes - 1).bit_length()

        def enter_row(word_index, pre_word, rows):
            """Start the lowest row of ``rows`` (a non-empty lane mask) in word ``word_index``."""
            _, lane = lowest(rows, lanes)
            rows_left, groups_after = without_lowest(rows), without_lowest(walk.active)
            m.d.sync += [row_lane.eq(lane), pending.eq(rows_left), more_rows.eq(rows_left.any()),
                         word_pres.eq(pre_word), more_groups.eq(groups_after.any()),
                         row_base.eq(((word_index * lanes + lane)[row_bits:] if row_bits else word_index * lanes + lane)
                                     * self.bank_groups),
                         group.eq(first), groups_left.eq(groups_after)]

        # The word and factors read this cycle go to the lanes with their pre trace and noise; the lanes hold them
        # and take ``UpdateLanes.latency`` cycles (hold, multiply and add, then shift, add, saturate and write back),
        # so a memory read, the multiply and the adds never share a cycle. Every word of a walk is a different
        # address, so nothing reads a word still in flight.
        stage_valid = Signal()
        stage_addr = Signal(range(depth))
        stage_pre = Signal(layouts.pre)
        read_addr = Signal(range(depth))
        m.d.sync += stage_valid.eq(0)
        # The words in the lanes: valid and address of each of their stages, the last one written back.
        in_flight = delay_line(m, stage_valid, update_lanes.latency, "lanes_valid")
        write_valid = in_flight[-1]
        write_addr = delayed(m, stage_addr, update_lanes.latency, "lanes_addr")
        m.d.comb += [
            update_lanes.word.eq(walk.read_data), update_lanes.factors.eq(factor_rd.data),
            update_lanes.pre.eq(stage_pre), update_lanes.noise.eq(self.noise[bank]), update_lanes.decay.eq(decay),
            read_addr.eq(host_local),
        ]
        # The word written back; with one port the read of that cycle waits (``stall``).
        store, store_addr, store_data = write_valid, write_addr, update_lanes.updated
        if self.single_port:
            m.d.comb += [weights.addr.eq(Mux(store, store_addr, read_addr)), walk.read_data.eq(weights.rdata),
                         weights.wdata.eq(Mux(store, store_data.as_value(), self.weight_wdata.as_value()))]
        else:
            m.d.comb += [weight_rd.addr.eq(read_addr), walk.read_data.eq(weight_rd.data),
                         weight_wr.addr.eq(Mux(store, store_addr, host_local)),
                         weight_wr.data.eq(Mux(store, store_data.as_value(), self.weight_wdata.as_value()))]
        host_write = self.weight_we & ~store & (host_bank == bank)  # the enable is gated to IDLE below
        stall = store if self.single_port else Const(0)  # the one port is writing: no read this cycle

        leaving = ~stall & ~more_groups & ~more_rows  # this VISIT cycle is the word's last: registers only
        fresh_rows = self.rows_of(pre_rd.data.nonzero, row_class)
        with m.FSM(name=f"walk{bank}") as fsm:
            with m.State("IDLE"):
                m.d.comb += [next_word.eq(0), pre_rd.addr.eq(0)]
                with m.If(walk.start):
                    m.next = "SCAN"
            with m.State("SCAN"):
                m.d.comb += pre_rd.addr.eq(word + 1)  # past the last word it is never used
                with m.If(pre_rd.data.occupied[row_class]):
                    enter_row(word, pre_rd.data.pres, fresh_rows)
                    m.next = "VISIT"
                with m.Elif(last_word):
                    m.next = "FLUSH"
                with m.Else():
                    m.d.comb += next_word.eq(word + 1)
            with m.State("VISIT"):
                address = row_base + (group[group_bits:] if group_bits else group)
                # Look one word ahead, so an active row of the next word follows without a SCAN cycle; when the
                # visit leaves the word, the one after that.
                m.d.comb += pre_rd.addr.eq(Mux(leaving, word + 2, word + 1))
                with m.If(~stall):
                    m.d.comb += [read_addr.eq(address), factor_rd.addr.eq(group), walk.visit.eq(1)]
                    saturating_increment(m, walk.visits, 1)
                    m.d.sync += [stage_valid.eq(1), stage_addr.eq(address), stage_pre.eq(row_pre)]
                    with m.If(more_groups):
                        groups_after = without_lowest(groups_left)
                        m.d.sync += [group.eq(following), groups_left.eq(groups_after),
                                     more_groups.eq(groups_after.any())]
                    with m.Elif(more_rows):
                        enter_row(word, word_pres, pending)
                    with m.Elif(last_word):
                        m.next = "FLUSH"
                    with m.Elif(pre_rd.data.occupied[row_class]):
                        m.d.comb += next_word.eq(word + 1)
                        enter_row(word + 1, pre_rd.data.pres, fresh_rows)
                    with m.Elif(word + 1 == n_words - 1):
                        m.next = "FLUSH"
                    with m.Else():
                        m.d.comb += next_word.eq(word + 2)
                        m.next = "SCAN"
            with m.State("FLUSH"):
                m.d.comb += pre_rd.addr.eq(word)
                m.next = "IDLE"
        settling = Cat(in_flight).any()
        if self.single_port:  # the memory writes its initial words after reset
            settling |= walk.loading
        m.d.comb += walk.busy.eq(~fsm.ongoing("IDLE") | settling)
        # Host writes only while idle; unconditional, so Icarus sees the enable from time 0.
        write_enable = store | (host_write & fsm.ongoing("IDLE"))
        m.d.comb += (weights.we if self.single_port else weight_wr.en).eq(write_enable)
        return walk


class _Walk:
    """What ``LayerUpdate`` sees of one bank's walk: its start and busy, the learning groups it walks, a visit
    strobe (its LFSRs step) and its visits so far, the word its memory read for the host, and whether the memory
    still writes its initial words."""

    def __init__(self, layouts: Layouts, groups: int, counter_bits: int):
        self.start, self.busy, self.visit, self.loading = Signal(), Signal(), Signal(), Signal()
        self.active = Signal(groups)  # the learning groups this bank walks
        self.read_data = Signal(layouts.word)
        self.visits = Signal(counter_bits)


class LayerUpdateWithBank(wiring.Component):
    """A layer's update wired to its own LFSR banks: a single layer's datapath as the benches test it."""

    BANK_PORTS = ("noise", "lfsr_step")

    def __init__(self, cfg: AcceleratorConfig, layer: int, words: torch.Tensor, single_port: bool = False):
        self.banks = [LfsrBank(cfg.lfsr, cfg.lanes, *walk_registers(cfg, layer, bank)) for bank in range(cfg.banks)]
        self.update = LayerUpdate(cfg, layer, words, single_port=single_port)
        members = self.update.signature.members
        super().__init__({name: member for name, member in members.items() if name not in self.BANK_PORTS})

    def elaborate(self, platform):
        m = Module()
        m.submodules.update = self.update
        for index, bank in enumerate(self.banks):
            m.submodules[f"bank{index}"] = bank
            m.d.comb += [self.update.noise[index].eq(bank.states), bank.step.eq(self.update.lfsr_step[index])]
        for name, member in self.signature.members.items():
            outer, inner = getattr(self, name), getattr(self.update, name)
            m.d.comb += inner.eq(outer) if member.flow == wiring.In else outer.eq(inner)
        return m
