"""Verilog export with the conventions every bench and build relies on."""

from __future__ import annotations

from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import Value, ValueCastable
from amaranth.lib import wiring


def flat_ports(component: wiring.Component) -> dict:
    """Port names joined with '_' (``s_axil_awaddr``), the form cocotbext-axi finds by prefix.

    Ports with a data layout or enum shape become their plain bit vector.
    """
    return {"_".join(map(str, path)): (Value.cast(value) if isinstance(value, ValueCastable) else value, None)
            for path, _, value in component.signature.flatten(component)}


def write_verilog(component: wiring.Component, name: str, path: Path, platform=None) -> Path:
    """Convert ``component`` to ``path`` as module ``name``, without host-specific source paths; ``platform`` is
    what elaboration sees (an FPGA family's primitives, ``Ecp5Primitives``), none by default."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = verilog.convert(component, name=name, ports=flat_ports(component), emit_src=False, platform=platform)
    path.write_text(text)
    return path


class Ecp5Primitives:
    """What elaboration sees of an ECP5 platform, without pins or tools: its family, so the netlist instantiates the
    primitives an ECP5 build does (``arith.product_of_held``'s DSP). Benches simulate them with
    ``eligo_sim.ecp5_models.v``."""

    family = "ecp5"
