"""The documented fault behaviour on the ``model`` transport, the executable spec the RTL top is compared with
(``tests/test_rtl_top.py`` runs the same session on both)."""

from __future__ import annotations

import numpy as np

from eligo.data.stream import sample_words
from eligo.driver import Accelerator
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


def test_opening_closes_a_sample_an_earlier_session_left_open():
    transport = ModelTransport(SMALL)
    earlier = Accelerator(transport, SMALL)
    spikes = np.zeros((1, 2, SMALL.network.n_inputs), dtype=np.uint8)
    spikes[0, :, 3] = 1
    transport.send_words(sample_words(spikes[0])[:-2])  # the last TICK and END never sent
    assert earlier.read("STATUS") & 1
    accelerator = Accelerator(transport, SMALL)
    assert accelerator.errors() == () and accelerator.counters().aborted_words == 0
    assert accelerator.infer(spikes)[0].index == 0
    assert accelerator.counters().samples == 1
