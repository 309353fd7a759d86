"""The chip rows of ``bench/throughput.py``: cycles per sample and samples/s from the clock, on toy numbers."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import throughput  # noqa: E402


def test_chip_rates_average_cycles_and_divide_the_clock():
    rates = throughput.chip_rates([1000, 3000], [500], clock_mhz=10.0)
    assert rates["cycles_per_sample_train"] == 2000
    assert rates["cycles_per_sample_infer"] == 500
    assert rates["train_samples_per_s"] == pytest.approx(5000.0)
    assert rates["infer_samples_per_s"] == pytest.approx(20000.0)


def test_build_clock_takes_the_achieved_fmax_and_says_whether_it_met_its_constraint(tmp_path):
    summary = {"board": "b", "design": "engine", "fmax_mhz": {"clk": 35.2}, "constraint_mhz": {"clk": 50},
               "timing_met": False, "layer_sizes": [512, 128, 10], "lanes": 16, "flow": "nextpnr", "part": "p"}
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    clock = throughput.build_clock(tmp_path / "summary.json")
    assert (clock["build"], clock["fmax_mhz"], clock["constraint_mhz"], clock["timing_met"]) == \
        ("b/engine", 35.2, 50, False)
