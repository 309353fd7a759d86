"""The documented fault behaviour on the ``model`` transport, the executable spec the RTL top is compared with
(``tests/test_rtl_top.py`` runs the same session on both)."""

from __future__ import annotations

from eligo.driver.model import ModelTransport
from eligo_sim.benches.accelerator_top import abort_session, fault_session
from tests.test_rtl_top import SMALL


def test_faults_behave_as_documented_on_the_model():
    seen = fault_session(ModelTransport(SMALL), SMALL)
    assert "expected 2 weight matrices" in seen["one layer missing"]
    assert "layer 0: weights must be [24, 16]" in seen["a row missing"]
    counters = seen["back-to-back ticks"][2]
    assert counters["bad_words"] == 0 and counters["events_dropped"] == 0


def test_sample_abort_on_the_model():
    seen = abort_session(ModelTransport(SMALL), SMALL)
    assert seen["idle abort"] is False
    status, counters = seen["abort asked=True"]
    assert status == 1 and counters["aborted_words"] == 3 and counters["samples"] == 1
    assert seen["results"][1] == ("sample_aborted",)
