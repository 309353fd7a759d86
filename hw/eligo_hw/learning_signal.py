"""Learning-signal unit: the integer softmax error and the square-wave projection.

``SoftmaxError`` is ``eligo.fixed.blocks.softmax_error``: a max, an exp ROM,
a sum and one sequential restoring divider shared by the classes (one
quotient bit per cycle). ``Projection`` is ``project_signal`` over the
``square_wave`` B for P neurons at a time: B's C x P signs of a group come
from a constant table of G rows in logic, so no memory holds B.
"""

from __future__ import annotations

from amaranth.hdl import Array, Const, Module, Mux, Signal, Value, signed
from amaranth.lib import data, wiring
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
    One class per cycle for the max, one per cycle for the exps and their sum,
    then one quotient bit per cycle of a restoring divider shared by the
    classes: no path wider than one compare, one table read and one add, so
    the unit keeps up with the rest of the engine's clock. ``busy`` falls when
    ``errors`` hold the result (2 C + C * bits(u) cycles after ``start``).
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
        table = Array(learning.exp_values)
        largest_exp = max(learning.exp_values)
        total_bits = (largest_exp * classes).bit_length()

        held = Signal.like(self.logits)
        tess = Signal()
        largest = Signal.like(self.logits[0])
        exps = Array(Signal(range(max(learning.exp_values) + 1), name=f"exp{k}") for k in range(classes))
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
        logit = Array(held[k] for k in range(classes))[klass]

        def load(k):
            return [remainder.eq(2 * unit * exps[k] + (denominator >> 1)),
                    divisor.eq(denominator << (quotient_bits - 1))]

        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [held.eq(self.logits), tess.eq(self.tess), label.eq(self.label),
                                 largest.eq(self.logits[0]), klass.eq(1 % classes), total.eq(0)]
                    m.next = "MAX" if classes > 1 else "EXP"
            with m.State("MAX"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += [largest.eq(Mux(logit > largest, logit, largest)), klass.eq(klass + 1)]
                with m.If(klass == classes - 1):
                    m.d.sync += klass.eq(0)
                    m.next = "EXP"
            with m.State("EXP"):
                m.d.comb += self.busy.eq(1)
                distance = (largest - logit).as_unsigned()
                index = Mux(tess, distance >> learning.tess_softmax_shift, distance >> learning.readout_softmax_shift)
                value = Mux(index < len(learning.exp_values), table[index], 0)
                m.d.sync += [exps[klass].eq(value), total.eq(total + value), klass.eq(klass + 1)]
                with m.If(klass == classes - 1):
                    m.d.sync += [denominator.eq(2 * (total + value)), klass.eq(0)]
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
                    target = Mux(klass == label, unit, 0)
                    for k in range(classes):
                        with m.If(klass == k):
                            m.d.sync += self.errors[k].eq(target - next_quotient)
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
