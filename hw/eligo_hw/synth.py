"""Place and route with the YoWASP tools, and the numbers a hardware engineer reads from it.

``place_and_route`` builds any elaboratable for an amaranth-boards platform and
returns Fmax and resource use parsed from nextpnr's JSON report, so tests can
fail when timing or fit regresses.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from amaranth.build.plat import Platform
from amaranth.hdl import Elaboratable, Module, Signal
from amaranth.lib import io

from eligo.config import NeuronFormat
from eligo.toolchain import configure_environment
from eligo_hw.neuron import LIFNeuron


@dataclass(frozen=True)
class SynthReport:
    board: str
    fmax_mhz: dict[str, float]
    constraint_mhz: dict[str, float]
    utilization: dict[str, tuple[int, int]]
    bitstream: str | None

    @property
    def min_fmax_mhz(self) -> float:
        return min(self.fmax_mhz.values())

    @property
    def timing_met(self) -> bool:
        return all(self.fmax_mhz[c] >= self.constraint_mhz[c] for c in self.fmax_mhz)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)


def read_nextpnr_report(path: Path, board: str, bitstream: Path | None) -> SynthReport:
    report = json.loads(Path(path).read_text())
    fmax = {clk: round(v["achieved"], 2) for clk, v in report["fmax"].items()}
    constraint = {clk: round(v["constraint"], 2) for clk, v in report["fmax"].items()}
    util = {cell: (v["used"], v["available"]) for cell, v in report["utilization"].items() if v["used"]}
    return SynthReport(board, fmax, constraint, util, str(bitstream) if bitstream and bitstream.exists() else None)


def place_and_route(top: Elaboratable, platform: Platform, build_dir: Path, name: str = "top") -> SynthReport:
    """Synthesise, place and route ``top`` (and pack a bitstream) into ``build_dir``."""
    configure_environment()
    build_dir = Path(build_dir)
    products = platform.build(
        top, name=name, build_dir=str(build_dir), do_program=False,
        nextpnr_opts=f"--report {name}.report.json",
    )
    bitstream = next((build_dir / f"{name}{ext}" for ext in (".bit", ".bin") if (build_dir / f"{name}{ext}").exists()), None)
    del products
    return read_nextpnr_report(build_dir / f"{name}.report.json", type(platform).__name__, bitstream)


class NeuronTracerTop(Elaboratable):
    """One LIF neuron fed by an LFSR on a real board, spike and membrane parity on LEDs.

    The LFSR keeps the neuron's inputs live so synthesis cannot remove the
    datapath whose Fmax is being measured.
    """

    def __init__(self, fmt: NeuronFormat):
        self.fmt = fmt

    def elaborate(self, platform):
        m = Module()
        m.submodules.neuron = neuron = LIFNeuron(self.fmt)
        lfsr = Signal(32, init=1)
        feedback = lfsr[31] ^ lfsr[21] ^ lfsr[1] ^ lfsr[0]
        m.d.sync += lfsr.eq((lfsr << 1) | feedback)
        m.d.comb += [
            neuron.current.eq(lfsr[: self.fmt.input_bits].as_signed()),
            neuron.step.eq(lfsr[31]),
        ]
        for index, value in enumerate((neuron.spike, neuron.membrane.xor())):
            m.submodules[f"led{index}"] = led = io.Buffer("o", platform.request("led", index, dir="-"))
            m.d.comb += led.o.eq(value)
        return m
