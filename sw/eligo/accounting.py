"""Memory and MAC accounting of a learning rule: formulas next to measurements.

Formulas come from each rule's ``cost_formula(T)`` (floats kept for learning and
MACs, per layer, one sample). Measurements run one real training sample:

* memory — the peak of (bytes of tensors autograd holds for backward, de-duplicated
  by storage, parameters excluded) + (bytes of the rule's ``learning_state()``:
  its traces), sampled at every saved tensor and after every step. Membranes needed
  for inference anyway, and gradient buffers the size of the weights, are not counted.
* MACs — ``torch.utils.flop_counter`` over the whole sample (matmuls and
  convolutions, forward, backward and the rules' outer products), halved.
"""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from eligo.rules.base import LearningRule

FLOAT_BYTES = 4


class _SavedTensorMeter:
    """Counts bytes autograd keeps alive for backward; a holder's death releases its bytes."""

    def __init__(self, rule: LearningRule):
        self.rule = rule
        self.excluded = {p.untyped_storage().data_ptr() for p in rule.named_trainables().values()}
        self.live: dict[int, list[int]] = {}  # storage pointer -> [holders, bytes]
        self.live_bytes = 0
        self.peak = 0

    def state_bytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.rule.learning_state())

    def observe(self) -> None:
        self.peak = max(self.peak, self.live_bytes + self.state_bytes())

    def pack(self, tensor: torch.Tensor):
        meter, key = self, tensor.untyped_storage().data_ptr()
        if key in self.excluded:
            return tensor
        entry = self.live.setdefault(key, [0, tensor.untyped_storage().nbytes()])
        if entry[0] == 0:
            self.live_bytes += entry[1]
        entry[0] += 1
        self.observe()

        class Holder:
            def __init__(self):
                self.tensor = tensor

            def __del__(self):
                entry[0] -= 1
                if entry[0] == 0:
                    meter.live_bytes -= entry[1]
                    del meter.live[key]

        return Holder()

    @staticmethod
    def unpack(held):
        return held if isinstance(held, torch.Tensor) else held.tensor


def measure(rule: LearningRule, spikes: torch.Tensor, labels: torch.Tensor) -> dict:
    """Peak learning memory (bytes) and MACs of training on one batch ``[B, T, n]``."""
    meter = _SavedTensorMeter(rule)
    counter = FlopCounterMode(display=False)
    with torch.autograd.graph.saved_tensors_hooks(meter.pack, meter.unpack), counter:
        rule.begin_sample(spikes.shape[0], spikes.shape[1])
        for t in range(spikes.shape[1]):
            rule.step(spikes[:, t], labels)
            meter.observe()
        rule.end_sample()
    return {"peak_bytes": meter.peak, "macs": counter.get_total_flops() // 2}


def formula_totals(rule: LearningRule, time_steps: int) -> dict:
    """Sum the rule's per-layer formula: learning bytes and MACs (forward + learning) for one sample."""
    rows = rule.cost_formula(time_steps)
    return {"state_bytes": FLOAT_BYTES * sum(r["state"] for r in rows),
            "forward_macs": sum(r["forward_macs"] for r in rows),
            "learning_macs": sum(r["learning_macs"] for r in rows),
            "macs": sum(r["forward_macs"] + r["learning_macs"] for r in rows),
            "layers": rows}
