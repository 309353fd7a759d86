"""``eligo train`` end to end: log, plot, exit codes."""

from __future__ import annotations

import json

import pytest

from eligo.cli import main
from eligo_sim.runner import SIMULATORS

TINY_CHIP_RUN = ["train", "--dataset", "patterns", "--samples", "8", "--time-steps", "5", "--epochs", "1",
                 "--hidden", "16", "--lr", "0.06", "--seed", "1"]
CYCLE_COUNTERS = ("cycles_integrate", "cycles_fire", "cycles_learn")  # the top counts its real phases, not the ideal


def test_train_writes_log_and_plot(tmp_path):
    out = tmp_path / "run"
    code = main(["train", "--rule", "stllr", "--dataset", "patterns", "--epochs", "2", "--seed", "3",
                 "--hidden", "16", "--samples", "64", "--time-steps", "6", "--lr", "0.02", "--out", str(out)])
    assert code == 0
    log = json.loads((out / "log.json").read_text())
    assert log["settings"]["rule"] == "stllr" and log["settings"]["backend"] == "float"
    assert [e["epoch"] for e in log["history"]["epochs"]] == [1, 2]
    assert 0.0 <= log["history"]["epochs"][-1]["test_accuracy"] <= 1.0
    assert (out / "accuracy.png").read_bytes()[:4] == b"\x89PNG"


def test_train_is_reproducible_from_the_seed(tmp_path):
    logs = []
    for run in ("a", "b"):
        main(["train", "--rule", "tess", "--basis", "counter", "--epochs", "1", "--seed", "5", "--hidden", "16",
              "--samples", "48", "--time-steps", "5", "--out", str(tmp_path / run)])
        logs.append(json.loads((tmp_path / run / "log.json").read_text())["history"])
    assert logs[0] == logs[1]


def test_bad_usage_exits_2(tmp_path, capsys):
    assert main(["train", "--dataset", "nope", "--out", str(tmp_path)]) == 2
    assert "unknown data set 'nope'" in capsys.readouterr().err
    assert main(["train", "--backend", "analog", "--out", str(tmp_path)]) == 2
    assert main(["train", "--hidden", "12,x", "--samples", "16", "--out", str(tmp_path)]) == 2
    assert main(["train", "--rule", "tp", "--batch-size", "1", "--samples", "16", "--out", str(tmp_path)]) == 2


@pytest.mark.parametrize("simulator", [pytest.param(name, marks=pytest.mark.slow) if name == "verilator" else name
                                       for name in SIMULATORS])  # Verilator's build of the top takes minutes
def test_rtl_backend_learns_what_the_model_backend_learns(simulator, tmp_path):
    """The generated Verilog under the same training loop: the same history, bit for bit, as the integer model."""
    assert main(TINY_CHIP_RUN + ["--backend", "model", "--out", str(tmp_path / "model")]) == 0
    assert main(TINY_CHIP_RUN + ["--backend", "rtl", "--simulator", simulator, "--out", str(tmp_path / "rtl")]) == 0
    model, rtl = (json.loads((tmp_path / run / "log.json").read_text())["history"] for run in ("model", "rtl"))
    counters = [{k: v for k, v in history.pop("counters").items() if k not in CYCLE_COUNTERS}
                for history in (model, rtl)]
    assert rtl == model and counters[0] == counters[1]
    assert counters[1]["updates_applied"] > 0 and counters[1]["samples"] == 8 + 2 * 8  # it learnt; 2 evaluations
    assert (tmp_path / "rtl" / "rtl" / "accelerator.v").exists()


def test_rtl_backend_says_what_is_missing(tmp_path, monkeypatch, capsys):
    assert main(TINY_CHIP_RUN + ["--backend", "rtl", "--device", "x", "--out", str(tmp_path)]) == 2
    assert "takes --simulator, not --device" in capsys.readouterr().err
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))  # Icarus is a system package: not on this PATH
    assert main(TINY_CHIP_RUN + ["--backend", "rtl", "--simulator", "icarus", "--out", str(tmp_path)]) == 1
    assert "'iverilog' not found on PATH. Install Icarus Verilog" in capsys.readouterr().err
    assert not (tmp_path / "rtl").exists()  # refused before elaborating anything


@pytest.mark.parametrize("rule, option", [("tess", "alpha_post"), ("tess", "temperature"), ("tp", "trace_beta")])
def test_float_backend_trains_with_the_recipe_unless_told_otherwise(rule, option):
    from eligo.cli import build_parser
    from eligo.commands.train import rule_hyper
    from eligo.rules.recipes import recipe

    parser = build_parser()
    assert rule_hyper(parser.parse_args(["train", "--rule", rule]))[option] == recipe(rule)[option]
    flag = {"alpha_post": ["--factors", "0.2,0.5,0.5,1"], "temperature": ["--temperature", "0.5"],
            "trace_beta": ["--trace-beta", "0.5"]}[option]
    assert rule_hyper(parser.parse_args(["train", "--rule", rule, *flag]))[option] == 0.5
