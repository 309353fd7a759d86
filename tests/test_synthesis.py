"""Place-and-route of the tracer neuron on real boards (slow; CI runs it in its own step)."""

from __future__ import annotations

import pytest
from amaranth_boards.ulx3s import ULX3S_85F_Platform

from eligo.config import NeuronFormat
from eligo_hw.synth import NeuronTracerTop, place_and_route


@pytest.mark.slow
def test_tracer_neuron_ecp5_ulx3s(tmp_path):
    fmt = NeuronFormat()
    report = place_and_route(NeuronTracerTop(fmt), ULX3S_85F_Platform(), tmp_path, "tracer")
    print(report.to_json())
    assert report.timing_met, f"timing not met: {report.fmax_mhz} vs {report.constraint_mhz}"
    assert report.min_fmax_mhz >= 50, f"neuron Fmax {report.min_fmax_mhz} MHz fell below 50 MHz"
    # Membrane + spike + 32-bit LFSR must survive synthesis: the datapath was not optimised away.
    flip_flops = report.utilization["TRELLIS_FF"][0]
    assert flip_flops >= fmt.membrane_bits + 1 + 32
    assert report.bitstream is not None and (tmp_path / "tracer.bit").stat().st_size > 100_000
