"""Every rule learns the small generated task: loss falls and accuracy beats chance (0.25) widely."""

from __future__ import annotations

import pytest

from eligo.data import load_dataset
from eligo.rules import make_rule
from eligo.rules.fit import fit
from eligo.snn import build_network

CASES = {
    "bptt": {},
    "stllr": {},
    "stllr-dfa": {"signal": "dfa"},
    "tess": {"basis": "sin"},
    "tess-counter": {"basis": "counter"},
    "tp": {},
    "ttbptt": {"truncation": 5},
}


@pytest.mark.parametrize("case", CASES)
def test_rule_learns_patterns(case):
    name = case.split("-")[0]
    train, test = load_dataset("patterns", "train", seed=1), load_dataset("patterns", "test", seed=1)
    net = build_network(train.n_inputs, (32,), train.n_classes, seed=1, readout_beta=0.875 if name == "tp" else 0.0)
    rule = make_rule(name, net, lr=1e-2, **CASES[case])
    history = fit(rule, train, test, epochs=2, batch_size=16, seed=1)
    final = history["epochs"][-1]
    assert final["test_loss"] < history["initial"]["test_loss"]
    assert final["test_accuracy"] >= 0.7, history
