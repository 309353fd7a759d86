"""A reduced soak of the accelerator top on every change: 50,000 events through the RTL, bit-exact, none lost.

The 10^6-event soak (``bench/soak.py``) takes most of an hour; this runs the same bench
(``eligo_sim.soak``: random pauses on every AXI-Lite channel, random source idles and sink back-pressure,
every packet, the weights and the counters compared with the model) on the small network, long enough that
a regression in the engine, the top or their handshakes fails a test rather than a later rerun. Icarus runs
it in the fast set, Verilator (minutes of build) in the slow set, with the deep network (two hidden layers).
"""

from __future__ import annotations

import pytest

from eligo_sim.runner import SIMULATORS
from eligo_sim.soak import run_soak

REDUCED_EVENTS = 50_000
SLOW = pytest.mark.slow
RUNS = [pytest.param(name, "small", marks=SLOW) if name == "verilator" else (name, "small") for name in SIMULATORS]


@pytest.mark.parametrize("simulator, network", RUNS + [pytest.param("verilator", "deep", marks=SLOW)])
def test_reduced_soak_is_bit_exact_and_loses_nothing(simulator, network, tmp_path):
    report = run_soak(network, simulator, REDUCED_EVENTS, tmp_path, chunk=25)
    counters, expected = report["counters"], report["model_counters"]
    assert REDUCED_EVENTS <= report["events"] < REDUCED_EVENTS + 25 * 20 * 64
    assert counters["events_in"] == report["events"] and counters["events_dropped"] == 0, counters
    assert counters["samples"] == report["samples"] == 25 * len(report["chunks"])
    assert {k: v for k, v in counters.items() if not k.startswith("cycles_")} == \
        {k: v for k, v in expected.items() if not k.startswith("cycles_")}
