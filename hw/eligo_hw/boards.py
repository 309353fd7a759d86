"""The boards the accelerator is built for, and the PLL that clocks it on each.

A board names an amaranth-boards platform, its FPGA family and the clock the
design must meet there. The design's ``sync`` domain always comes from the
board's PLL set to that clock (not from the crystal), so the frequency nextpnr
checks is the frequency the bitstream runs at: nextpnr derives the PLL output's
constraint from the divider parameters and the crystal's constraint. The Zynq board has no open
place and route here: it gets a Yosys ``synth_xilinx`` estimate instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from amaranth.hdl import ClockDomain, ClockSignal, Elaboratable, Instance, Module, Signal
from amaranth.lib import io
from amaranth.lib.cdc import ResetSynchronizer
from amaranth_boards.arty_z7 import ArtyZ720Platform
from amaranth_boards.icebreaker import ICEBreakerPlatform
from amaranth_boards.ulx3s import ULX3S_85F_Platform

from eligo.config import AcceleratorConfig, LearningConfig, NetworkShape, NeuronFormat, ReadoutFormat


class BoardError(ValueError):
    """A board name or clock request the flow cannot build."""


@dataclass(frozen=True)
class PllSetting:
    """Divider values of one PLL and the output frequency they give."""

    params: dict[str, int]
    out_hz: float


def ecp5_pll(in_hz: float, target_hz: float) -> PllSetting:
    """EHXPLLL dividers (CLKOP fed back) for the frequency nearest ``target_hz``.

    out = in * CLKFB_DIV / CLKI_DIV; the VCO (out * CLKOP_DIV) must lie in
    400..800 MHz (nearest 600 MHz preferred) and the phase detector (in / CLKI_DIV) at or above 10 MHz.
    """
    best = None
    for clki_div in range(1, 129):
        if in_hz / clki_div < 10e6:
            break
        for clkfb_div in range(1, 81):
            out = in_hz * clkfb_div / clki_div
            for clkop_div in range(1, 129):
                if 400e6 <= out * clkop_div <= 800e6:
                    # Nearest frequency first, then the VCO nearest the middle of its range.
                    candidate = (abs(out - target_hz), abs(out * clkop_div - 600e6), clki_div, clkfb_div,
                                 clkop_div, out)
                    best = candidate if best is None or candidate < best else best
    if best is None:
        raise BoardError(f"no ECP5 PLL setting gives {target_hz / 1e6:.2f} MHz from {in_hz / 1e6:.2f} MHz")
    _, _, clki_div, clkfb_div, clkop_div, out = best
    return PllSetting({"CLKI_DIV": clki_div, "CLKFB_DIV": clkfb_div, "CLKOP_DIV": clkop_div,
                       "CLKOP_CPHASE": (clkop_div - 1) // 2}, out)


def ice40_pll(in_hz: float, target_hz: float) -> PllSetting:
    """SB_PLL40 dividers (simple feedback) for the frequency nearest ``target_hz``.

    out = in * (DIVF + 1) / ((DIVR + 1) * 2**DIVQ); the phase detector must lie
    in 10..133 MHz and the VCO in 533..1066 MHz; the loop filter range follows
    the phase-detector frequency.
    """
    best = None
    for divr in range(16):
        pfd = in_hz / (divr + 1)
        if not 10e6 <= pfd <= 133e6:
            continue
        for divf in range(128):
            vco = pfd * (divf + 1)
            if not 533e6 <= vco <= 1066e6:
                continue
            for divq in range(1, 7):
                out = vco / (1 << divq)
                candidate = (abs(out - target_hz), divr, divf, divq, out)
                if best is None or candidate < best:
                    best = candidate
    if best is None:
        raise BoardError(f"no iCE40 PLL setting gives {target_hz / 1e6:.2f} MHz from {in_hz / 1e6:.2f} MHz")
    _, divr, divf, divq, out = best
    pfd_mhz = in_hz / (divr + 1) / 1e6
    filter_range = 1 + sum(pfd_mhz >= edge for edge in (17, 26, 44, 66, 101))
    return PllSetting({"DIVR": divr, "DIVF": divf, "DIVQ": divq, "FILTER_RANGE": filter_range}, out)


class PllClocked(Elaboratable):
    """Runs ``design`` in a ``sync`` domain clocked by the board's PLL, held in reset until it locks."""

    def __init__(self, design: Elaboratable, board: "Board", target_hz: float):
        self.design = design
        self.board = board
        self.setting = board.pll(board.crystal_hz, target_hz)

    @property
    def clock_hz(self) -> float:
        return self.setting.out_hz

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = ClockDomain("sync")
        pll_clock = Signal()
        locked = Signal()
        params = {f"p_{name}": value for name, value in self.setting.params.items()}
        if self.board.family == "ecp5":
            m.submodules.crystal = crystal = io.Buffer("i", platform.request(platform.default_clk, dir="-"))
            m.submodules.pll = Instance(
                "EHXPLLL", **params,
                p_FEEDBK_PATH="CLKOP", p_CLKOP_ENABLE="ENABLED", p_CLKOP_FPHASE=0,
                p_OUTDIVIDER_MUXA="DIVA", p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED",
                p_STDBY_ENABLE="DISABLED", p_DPHASE_SOURCE="DISABLED",
                a_FREQUENCY_PIN_CLKI=f"{self.board.crystal_hz / 1e6:g}",
                a_FREQUENCY_PIN_CLKOP=f"{self.clock_hz / 1e6:g}",
                i_CLKI=crystal.i, i_CLKFB=pll_clock, i_RST=0, i_STDBY=0,
                i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1, i_PHASELOADREG=1,
                i_PLLWAKESYNC=0, i_ENCLKOP=0,
                o_CLKOP=pll_clock, o_LOCK=locked,
            )
        else:
            crystal = platform.request(platform.default_clk, dir="-")
            m.submodules.pll = Instance(
                "SB_PLL40_PAD", **params,
                p_FEEDBACK_PATH="SIMPLE",
                io_PACKAGEPIN=crystal.io, i_RESETB=1, i_BYPASS=0,
                o_PLLOUTGLOBAL=pll_clock, o_LOCK=locked,
            )
        m.d.comb += ClockSignal("sync").eq(pll_clock)
        m.submodules.reset = ResetSynchronizer(~locked, domain="sync")
        m.submodules.design = self.design
        return m


@dataclass(frozen=True)
class Board:
    """A build target: platform, family, crystal, the clock to meet, and how it is built."""

    name: str
    platform: Callable[[], object]
    family: str
    part: str
    crystal_hz: float
    clock_mhz: float
    flow: str  # "nextpnr": place, route and pack a bitstream; "yosys-estimate": synthesis only
    config_overrides: dict[str, Any] = field(default_factory=dict)
    # Elaboration choices for this board's part that trade cycles for resources (``Design.board_options``).
    core_options: dict[str, Any] = field(default_factory=dict)
    # Placements tried before a build gives up on finding a legal one (``synth.place_and_route``).
    placement_tries: int = 1

    def default_config(self) -> AcceleratorConfig:
        """The project's default config, cut down where the board is too small for it."""
        return AcceleratorConfig(**self.config_overrides)

    def pll(self, in_hz: float, target_hz: float) -> PllSetting:
        if self.family == "ecp5":
            return ecp5_pll(in_hz, target_hz)
        if self.family == "ice40":
            return ice40_pll(in_hz, target_hz)
        raise BoardError(f"board {self.name}: no PLL model for family {self.family}")


BOARDS: dict[str, Board] = {board.name: board for board in (
    # 50 MHz: the update lanes (multiply, add, saturate into the BRAM write port in one cycle) reach ~56 MHz.
    Board("ulx3s-85f", ULX3S_85F_Platform, "ecp5", "LFE5U-85F-6BG381C", 25e6, 50.0, "nextpnr"),
    # The UP5K's eight SB_MAC16 bound P at 8; its 30 EBR (120 kbit) bound the first layer (see docs/boards.md).
    Board("icebreaker", ICEBreakerPlatform, "ice40", "iCE40UP5K-SG48", 12e6, 24.0, "nextpnr",
          # The whole accelerator places only with the square-wave signal at a fixed rate: the BP signal's pass
          # or the run-time decay's shifter adds 200-450 LC to a part already 93 % full (docs/boards.md). The
          # error unit and shift are those it placed with (at the defaults' 127 and 10 it does not). Since the
          # pipeline stages of the 75 MHz ECP5 work (about 200 flip-flops) it places only with 10-bit membranes
          # and currents and 12-bit scores (at 16 and 24 bits: 5137 LC, no legal placement); the lanes' product
          # registers (``registered_products``) took it to 4954 LC and no legal placement.
          {"network": NetworkShape(n_inputs=384, hidden=(32,), n_classes=8), "lanes": 8,
           "neuron": NeuronFormat(membrane_bits=10, input_bits=10), "readout": ReadoutFormat(score_bits=12),
           "learning": LearningConfig(rule="stllr_dfa", max_lr_decay=0, error_unit=64, lr_shift=9)},
          # Layer 0's weights in the four SB_SPRAM256KA (single-ported: two cycles a word), the EBR left to the
          # rest; the serial bridge's buffers cut to a two-word event hand-over and one output packet; no register
          # slices on the word stream (about 130 flip-flops the 16.5 MHz clock does not need).
          core_options={"single_port_layers": (0,), "event_fifo_words": 2, "output_packets": 1,
                        "stream_slices": False},
          # At 92 % of the LCs a legal placement depends on the seed: the same netlist places with seed 3, not 1 or 2.
          placement_tries=6),
    # PYNQ-Z2 has no amaranth-boards file; the Arty Z7-20 carries the same xc7z020clg400-1.
    Board("pynq-z2", ArtyZ720Platform, "xc7", "xc7z020clg400-1", 125e6, 100.0, "yosys-estimate"),
)}


def get_board(name: str) -> Board:
    try:
        return BOARDS[name]
    except KeyError:
        raise BoardError(f"unknown board {name!r}; known boards: {', '.join(BOARDS)}") from None
