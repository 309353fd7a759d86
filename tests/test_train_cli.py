"""``eligo train`` end to end: log, plot, exit codes."""

from __future__ import annotations

import json

from eligo.cli import main


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
