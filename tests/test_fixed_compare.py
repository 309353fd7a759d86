"""The comparison harness reuses a float run only when the float twin would be the same rule."""

from __future__ import annotations

import dataclasses

from eligo.config import AcceleratorConfig, TraceFormat
from eligo.fixed.compare import reusable_float, twin_settings


def history(epochs: int) -> dict:
    return {"initial": {"test_accuracy": 0.1}, "epochs": [{"epoch": e, "test_accuracy": e / 10} for e in
                                                            range(1, epochs + 1)]}


def test_twin_settings_ignore_chip_formats_that_keep_the_float_rule():
    base = AcceleratorConfig()
    coarser_trace = dataclasses.replace(base, traces=TraceFormat(pre_increment=16),
                                        learning=dataclasses.replace(base.learning,
                                                                     lr_shift=base.learning.lr_shift - 1))
    assert coarser_trace.float_learning_rate == base.float_learning_rate
    assert twin_settings(coarser_trace) == twin_settings(base)
    faster = dataclasses.replace(base, learning=dataclasses.replace(base.learning, lr_shift=8))
    assert twin_settings(faster) != twin_settings(base)


def test_reusable_float_matches_dataset_seed_and_twin_and_cuts_epochs():
    cfg = AcceleratorConfig()
    other = dataclasses.replace(cfg, learning=dataclasses.replace(cfg.learning, lr_shift=8))
    report = {"datasets": {"digits": {"runs": [
        {"seed": 1, "twin": twin_settings(other), "float": history(3)},
        {"seed": 1, "twin": twin_settings(cfg), "float": history(3)}]}}}
    reused = reusable_float([report], "digits", cfg, seed=1, epochs=2)
    assert reused["epochs"] == history(2)["epochs"]
    assert reusable_float([report], "digits", cfg, seed=0, epochs=2) is None
    assert reusable_float([report], "gestures", cfg, seed=1, epochs=2) is None
    assert reusable_float([report], "digits", cfg, seed=1, epochs=4) is None
