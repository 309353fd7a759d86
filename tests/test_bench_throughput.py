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


def test_build_clock_is_the_met_clock_or_else_the_achieved_fmax(tmp_path):
    summary = {"board": "b", "design": "accelerator", "clock_mhz": 50.0, "fmax_mhz": {"clk": 35.2},
               "constraint_mhz": {"clk": 50}, "timing_met": False, "layer_sizes": [512, 128, 10], "lanes": 16,
               "flow": "nextpnr", "part": "p"}
    build = tmp_path / "accelerator-default"
    build.mkdir()
    (build / "summary.json").write_text(json.dumps(summary))
    clock = throughput.build_clock(build / "summary.json")
    assert (clock["build"], clock["clock_mhz"], clock["fmax_mhz"], clock["timing_met"]) == \
        ("b/accelerator-default", 35.2, 35.2, False)
    (build / "summary.json").write_text(json.dumps({**summary, "fmax_mhz": {"clk": 81.3}, "timing_met": True}))
    assert throughput.build_clock(build / "summary.json")["clock_mhz"] == 50.0


def test_rows_name_the_banked_chip_rows_and_their_assumed_clock():
    rows = throughput.row_labels([1, 4])
    assert rows["chip"] == "chip, its build's clock" and "same clock" in rows["chip_banks4"]
    assert list(rows)[:3] == list(throughput.CPU_ROWS)
