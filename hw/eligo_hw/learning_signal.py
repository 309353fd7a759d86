"""Learning-signal unit: the integer softmax error, the square-wave projection and the back-projection.

``SoftmaxError`` is ``eligo.fixed.blocks.softmax_error``: a max, an exp ROM,
a sum and one sequential restoring divider shared by the classes (one
quotient bit per cycle). ``Projection`` is ``project_signal`` over the
``square_wave`` B for P neurons at a time: B's C x P signs of a group come
from a constant table of G rows in logic, so no memory holds B.
``BackProjection`` is ``back_project``: W_out^T e from the readout's own
weight memory, one word a cycle.
"""

from __future__ import annotations

from amaranth.hdl import Array, Const, Module, Mux, Signal, Value, signed
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from eligo.config import AcceleratorConfig
from eligo.fixed.blocks import square_wave
from eligo_hw.arith import saturate


def square_wave_negative(cfg: AcceleratorConfig, n_neurons: int, group: Value) -> Value:
    """Bit k * P + lane is 1 where B[k, group * P + lane] = -1: a constant table of the groups, read by ``group``.

    A table rather than ``neuron // half_period``: a half period that is not a
    power of two would put a divider on the path to the adder trees. A shifted
    constant rather than an ``Array``, which Icarus would not evaluate before
    the group first changes.
    """
    lanes, classes = cfg.lanes, cfg.network.n_classes
    groups = -(-n_neurons // lanes)
    negative = (square_wave(classes, groups * lanes, cfg.learning) < 0).view(classes, groups, lanes)
    rows = [sum(int(negative[k, g, lane]) << (k * lanes + lane) for k in range(classes) for lane in range(lanes))
            for g in range(groups)]
    table = sum(row << (g * classes * lanes) for g, row in enumerate(rows))
    return Const(table, groups * classes * lanes).word_select(group, classes * lanes)


def tree_sum(values: list) -> Value:
    """The sum of ``values`` as a balanced adder tree: log2(n) adders deep, where Python's ``sum`` chains n - 1."""
    while len(values) > 1:
        values = [a + b for a, b in zip(values[::2], values[1::2])] + values[len(values) - len(values) % 2:]
    return values[0]


def logit_bits(cfg: AcceleratorConfig) -> int:
    """Signed width of what the softmax sees: readout logits, or TESS's z (|z_k| <= n_hidden)."""
    return max(cfg.neuron.membrane_bits, max(cfg.network.hidden, default=1).bit_length() + 1)


class SoftmaxError(wiring.Component):
    """e_k = u [k = label] - (2 u E_k + S) // 2S, E_k = exp_values[(max z - z_k) >> shift]; ``start`` latches.

    ``tess`` picks ``tess_softmax_shift`` instead of ``readout_softmax_shift``.
    One class per cycle for the max, one per cycle for the exps' table indices
    (the table read and the sum a cycle behind), then one quotient bit per cycle
    of a restoring divider shared by the classes: no path wider than one
    compare, one subtraction or one table read and one add, so the unit keeps
    up with the rest of the engine's clock. ``busy`` falls when ``errors`` hold
    the result (2 C + 2 + C * bits(u) cycles after ``start``).
    """

    def __init__(self, cfg: AcceleratorConfig):
        self.cfg = cfg
        classes = cfg.network.n_classes
        self.errors_layout = data.ArrayLayout(signed(cfg.learning.signal_bits), classes)
        super().__init__({
            "logits": In(data.ArrayLayout(signed(logit_bits(cfg)), classes)),
            "label": In(range(classes)),
            "tess": In(1),
            "start": In(1),
            "busy": Out(1),
            "errors": Out(self.errors_layout),
        })

    def elaborate(self, platform):
        m = Module()
        learning, classes = self.cfg.learning, self.cfg.network.n_classes
        unit = learning.error_unit
        quotient_bits = unit.bit_length()
        largest_exp = max(learning.exp_values)
        total_bits = (largest_exp * classes).bit_length()

        held = [Signal.like(self.logits[k], name=f"held{k}") for k in range(classes)]
        tess = Signal()
        largest = Signal.like(self.logits[0])
        # Each class's 2 u E_k, the divider's dividend less S (the table holds it beside E_k: no multiplier).
        scaled_exps = Array(Signal(range(2 * unit * largest_exp + 1), name=f"scaled_exp{k}") for k in range(classes))
        total = Signal(total_bits)
        denominator = Signal(total_bits + 1)
        # The dividend 2 u E_k + S at its largest, and the divisor 2S shifted to the quotient bit being tried: a
        # register shifted right each cycle rather than a shifter on the path to the subtractor.
        remainder = Signal(range(2 * unit * largest_exp + largest_exp * classes + 1))
        divisor = Signal(len(denominator) + quotient_bits - 1)
        quotient = Signal(quotient_bits)
        bit = Signal(range(quotient_bits))
        klass = Signal(range(max(classes, 2)))
        label = Signal(range(classes))
        # The logits rotate one class a cycle through MAX and EXP, so the class in turn is always ``held[0]``: no
        # class multiplexer before the compare or the subtraction.
        logit = held[0]

        def rotate(logits):
            return [held[k].eq(logits[(k + 1) % classes]) for k in range(classes)]
        # The exp stage: a class's table index goes to a synchronous ROM, so the subtraction and the table read
        # are in one cycle, the exp and the sum in the next.
        entry = data.StructLayout({"exp": range(largest_exp + 1), "scaled": range(2 * unit * largest_exp + 1)})
        m.submodules.exp_table = exp_table = Memory(shape=entry, depth=len(learning.exp_values),
                                                    init=[{"exp": e, "scaled": 2 * unit * e}
                                                          for e in learning.exp_values])
        exp_read = exp_table.read_port()
        in_table, index_class, index_valid = Signal(), Signal.like(klass), Signal()
        m.d.sync += index_valid.eq(0)
        with m.If(index_valid):
            m.d.sync += [scaled_exps[index_class].eq(Mux(in_table, exp_read.data.scaled, 0)),
                         total.eq(total + Mux(in_table, exp_read.data.exp, 0))]

        def load(k):
            return [remainder.eq(scaled_exps[k] + (denominator >> 1)),
                    divisor.eq(denominator << (quotient_bits - 1))]

        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [*rotate(self.logits), tess.eq(self.tess), label.eq(self.label),
                                 largest.eq(self.logits[0]), klass.eq(1 % classes), total.eq(0)]
                    m.next = "MAX" if classes > 1 else "EXP"
            with m.State("MAX"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += [largest.eq(Mux(logit > largest, logit, largest)), *rotate(held),
                             klass.eq(klass + 1)]
                with m.If(klass == classes - 1):
                    m.d.sync += klass.eq(0)
                    m.next = "EXP"
            with m.State("EXP"):  # the table index of a class; its exp and the sum follow a cycle later
                m.d.comb += self.busy.eq(1)
                distance = (largest - logit).as_unsigned()
                index = Mux(tess, distance >> learning.tess_softmax_shift, distance >> learning.readout_softmax_shift)
                m.d.comb += exp_read.addr.eq(index)
                m.d.sync += [in_table.eq(index < len(learning.exp_values)), index_class.eq(klass),
                             index_valid.eq(1), *rotate(held), klass.eq(klass + 1)]
                with m.If(klass == classes - 1):
                    m.d.sync += klass.eq(0)
                    m.next = "SUM"
            with m.State("SUM"):  # the last class's exp is added this cycle
                m.d.comb += self.busy.eq(1)
                m.next = "DENOMINATOR"
            with m.State("DENOMINATOR"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += denominator.eq(2 * total)
                m.next = "LOAD"
            with m.State("LOAD"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += [*load(klass), quotient.eq(0), bit.eq(quotient_bits - 1)]
                m.next = "DIVIDE"
            with m.State("DIVIDE"):
                m.d.comb += self.busy.eq(1)
                fits = remainder >= divisor
                next_quotient = quotient | Mux(fits, 1 << bit, 0)
                with m.If(fits):
                    m.d.sync += remainder.eq(remainder - divisor)
                m.d.sync += [quotient.eq(next_quotient), bit.eq(bit - 1), divisor.eq(divisor >> 1)]
                with m.If(bit == 0):
                    # target - next_quotient, with the last quotient bit (``fits``) chosen after the subtraction,
                    # so the compare and the subtraction are not one carry chain after the other.
                    target_less_quotient = Mux(klass == label, unit, 0) - quotient
                    error = Mux(fits, target_less_quotient - 1, target_less_quotient)
                    for k in range(classes):
                        with m.If(klass == k):
                            m.d.sync += self.errors[k].eq(error)
                    m.d.sync += [klass.eq(klass + 1), *load(klass + 1), quotient.eq(0),
                                 bit.eq(quotient_bits - 1)]
                    with m.If(klass == classes - 1):
                        m.next = "IDLE"
        return m


class Projection(wiring.Component):
    """L_i = sat(sum_k B[k, i] e_k) for the P neurons of ``group`` (combinational)."""

    def __init__(self, cfg: AcceleratorConfig, n_neurons: int):
        self.cfg = cfg
        self.groups = -(-n_neurons // cfg.lanes)
        super().__init__({
            "errors": In(data.ArrayLayout(signed(cfg.learning.signal_bits), cfg.network.n_classes)),
            "group": In(range(max(self.groups, 2))),
            "signals": Out(data.ArrayLayout(signed(cfg.learning.signal_bits), cfg.lanes)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, learning = self.cfg, self.cfg.learning
        negative = Signal(cfg.network.n_classes * cfg.lanes)
        m.d.comb += negative.eq(square_wave_negative(cfg, self.groups * cfg.lanes, self.group))
        for lane in range(cfg.lanes):
            terms = [Mux(negative[k * cfg.lanes + lane], -self.errors[k], self.errors[k])
                     for k in range(cfg.network.n_classes)]
            m.d.comb += self.signals[lane].eq(saturate(tree_sum(terms), learning.signal_bits))
        return m


class BackProjection(wiring.Component):
    """S-TLLR's hidden signal L_i = sat((sum_k W_out[i, k] e_k + theta/2) >> log2 theta): ``back_project``.

    One pass over the readout's weight memory (``weight_addr`` out,
    ``weight_data`` in a cycle later; address = i * G1 + g, so hidden neuron
    i's C weights are its G1 consecutive words): a word's P products with
    the errors of its classes (the word and the products each registered) go
    through an adder tree into a register, and
    a neuron's G1 partial sums into an accumulator; a cycle after its last, the
    sum is rounded, shifted and saturated into lane i mod P of a staged group of
    signals (the accumulator's adder and the rounding's never share a cycle). A full group is
    written to a small memory (G0 words of P signals) that ``group`` reads, a
    cycle later on ``signals``. ``start`` begins the pass; ``errors`` must hold
    from then until ``busy`` falls, n_hidden * G1 + 6 cycles later. The readout's
    weights are on chip, so the signal needs no copy of them (no weight transport).
    """

    def __init__(self, cfg: AcceleratorConfig):
        self.cfg = cfg
        n_hidden = cfg.network.hidden[-1]
        self.readout_groups, self.hidden_groups = cfg.groups[-1], cfg.groups[-2]
        self.depth = n_hidden * self.readout_groups
        signal_bits, lanes = cfg.learning.signal_bits, cfg.lanes
        super().__init__({
            "errors": In(data.ArrayLayout(signed(signal_bits), cfg.network.n_classes)),
            "start": In(1),
            "busy": Out(1),
            "weight_addr": Out(range(max(self.depth, 2))),
            "weight_data": In(data.ArrayLayout(signed(cfg.weight_bits), lanes)),
            "group": In(range(max(self.hidden_groups, 2))),
            "signals": Out(data.ArrayLayout(signed(signal_bits), lanes)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, lanes, classes = self.cfg, self.cfg.lanes, self.cfg.network.n_classes
        n_hidden, readout_groups = cfg.network.hidden[-1], self.readout_groups
        m.submodules.signals = memory = Memory(shape=self.signals.shape(), depth=self.hidden_groups, init=[])
        write, read = memory.write_port(), memory.read_port()
        m.d.comb += [read.addr.eq(self.group), self.signals.eq(read.data)]

        total_bits = cfg.weight_bits + cfg.learning.signal_bits + max(classes, 2).bit_length()
        # Issue: the address walks the memory in order; neuron and readout group follow it.
        running = Signal()
        neuron, readout_group = Signal(range(max(n_hidden, 2))), Signal(range(max(readout_groups, 2)))
        # Stage 1 (the word read last cycle): which neuron and group it belongs to.
        read_valid, read_neuron, read_group = Signal(), Signal.like(neuron), Signal.like(readout_group)
        # Stage 2: the word, registered (the block RAM's output is slow), then its P products: the memory, the
        # multipliers and the adder tree never share a cycle.
        word_valid, word_neuron, word_group = Signal(), Signal.like(neuron), Signal.like(readout_group)
        word = Signal.like(self.weight_data)
        product_valid, product_neuron, product_group = Signal(), Signal.like(neuron), Signal.like(readout_group)
        # Stage 3: the word's partial sum.
        partial_valid, partial_neuron, partial_group = Signal(), Signal.like(neuron), Signal.like(readout_group)
        partial, total = Signal(signed(total_bits)), Signal(signed(total_bits))
        staged = Signal.like(self.signals)
        flush, flush_group = Signal(), Signal(range(max(self.hidden_groups, 2)))

        m.d.comb += self.weight_addr.eq(neuron * readout_groups + readout_group)
        with m.If(self.start):
            m.d.sync += [running.eq(1), neuron.eq(0), readout_group.eq(0), staged.eq(0)]
        with m.If(running):
            m.d.sync += readout_group.eq(readout_group + 1)
            with m.If(readout_group == readout_groups - 1):
                m.d.sync += [readout_group.eq(0), neuron.eq(neuron + 1)]
                with m.If(neuron == n_hidden - 1):
                    m.d.sync += running.eq(0)
        m.d.sync += [read_valid.eq(running), read_neuron.eq(neuron), read_group.eq(readout_group)]

        errors = [[self.errors[k] if k < classes else 0 for k in range(lane, readout_groups * lanes, lanes)]
                  for lane in range(lanes)]
        m.d.sync += [word_valid.eq(read_valid), word_neuron.eq(read_neuron), word_group.eq(read_group),
                     word.eq(self.weight_data)]
        products = []
        for lane, column in enumerate(errors):
            product = word[lane] * (column[0] if readout_groups == 1 else Array(column)[word_group])
            products.append(Signal.like(product, name=f"product{lane}"))
            m.d.sync += products[-1].eq(product)
        m.d.sync += [product_valid.eq(word_valid), product_neuron.eq(word_neuron), product_group.eq(word_group),
                     partial_valid.eq(product_valid), partial_neuron.eq(product_neuron),
                     partial_group.eq(product_group), partial.eq(tree_sum(products))]

        # Stage 4: a neuron's sum is in ``total`` the cycle after its last partial sum went in.
        shift = cfg.bp_shift
        running_total = Mux(partial_group == 0, 0, total) + partial
        finished, finished_neuron = Signal(), Signal.like(neuron)
        m.d.sync += [total.eq(running_total), flush.eq(0),
                     finished.eq(partial_valid & (partial_group == readout_groups - 1)),
                     finished_neuron.eq(partial_neuron)]
        signal = saturate((total + ((1 << shift) >> 1)) >> shift, cfg.learning.signal_bits)
        lane_bits = (lanes - 1).bit_length()
        lane = finished_neuron[:lane_bits] if lanes > 1 else Const(0, 1)
        with m.If(finished):
            for index in range(lanes):
                with m.If(lane == index):
                    m.d.sync += staged[index].eq(signal)
            with m.If((lane == lanes - 1) | (finished_neuron == n_hidden - 1)):
                m.d.sync += [flush.eq(1), flush_group.eq(finished_neuron >> lane_bits)]
        m.d.comb += [write.en.eq(flush), write.addr.eq(flush_group), write.data.eq(staged)]
        m.d.comb += self.busy.eq(running | read_valid | word_valid | product_valid | partial_valid | finished
                                 | flush)
        return m
