"""Offline float training recipes: what ``eligo train --backend float`` and the benches use unless told otherwise.

One entry per rule, on top of the shared setting (Adam, batch 16, learning rate ``LEARNING_RATE``, the
cosine schedule of ``fit``); each value is what the ablations of docs/rules.md measured best on the
embedded sets (512-128-10, 10 epochs). ``readout_beta`` is the readout's leak: 1 (a pure sum) helps the
rules whose readout learns from its own loss (BPTT through time, TESS, TP) and hurts S-TLLR and truncated
BPTT, whose hidden signal only sees the loss of the current step. TESS's layer loss at temperature 0.03
(1 in the paper's code) makes its signal depend on the layer's output instead of being almost a fixed
projection of the label; TESS's non-causal term α_post = −1 (S-TLLR's DVS Gesture factor, 0 in the TESS
paper's DVS script) and TP's trace decay 0.95 (0.875, the neuron's leak, by default) each gained about 1.5
points on gestures over seeds 0–7. The rule classes' own defaults are unchanged (TESS's temperature stays 1,
α_post 0; TP's trace decay 0.875): the chip's float twin builds them with explicit arguments and keeps what
it computed. ``eligo train --backend float`` reads every entry from here; its options (``--lr``, ``--schedule``,
``--readout-beta``, ``--temperature``, ``--factors``, ``--trace-beta``) override them.
"""

from __future__ import annotations

LEARNING_RATE = 5e-3
SCHEDULE = "cosine"
RECIPES: dict[str, dict] = {
    "bptt": {"readout_beta": 1.0},
    "stllr": {"readout_beta": 0.0},
    "tess": {"readout_beta": 1.0, "temperature": 0.03, "alpha_post": -1.0},
    "tp": {"readout_beta": 1.0, "lr": 1e-3, "trace_beta": 0.95},
    "ttbptt": {"readout_beta": 0.0},
}


def recipe(rule: str) -> dict:
    """The rule's full float recipe: ``lr``, ``schedule``, ``readout_beta`` (and any rule option)."""
    if rule not in RECIPES:
        raise ValueError(f"no float recipe for rule {rule!r}; known: {', '.join(RECIPES)}")
    return {"lr": LEARNING_RATE, "schedule": SCHEDULE, **RECIPES[rule]}
