"""BPTT with surrogate gradients: the baseline, keeping the whole unrolled graph of a sample.

The loss is the cross-entropy of the logits summed over the learning window (the
S-TLLR and TESS papers' BPTT baseline), back-propagated once at the last step.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from eligo.rules.base import LearningRule


class BPTT(LearningRule):
    name = "bptt"
    allowed_updates = ("sample",)

    def reset_state(self, batch):
        self.state = self.network.init_state(batch)
        self.logit_sum = None

    def learn_step(self, x, labels):
        with torch.enable_grad():
            _, logits, self.state = self.network.step(x, self.state)
            if self.in_window():
                self.logit_sum = logits if self.logit_sum is None else self.logit_sum + logits
            if self.t == self.time_steps - 1:
                loss = F.cross_entropy(self.logit_sum / (self.time_steps - self.learn_from), labels)
                self.losses.append(float(loss.detach()))
                loss.backward()
        return logits.detach()

    def cost_formula(self, time_steps: int) -> list[dict]:
        return autograd_cost(self.network, time_steps, kept_steps=time_steps, segments=1, block_starts={0},
                             loss_floats=self.network.n_classes)


def autograd_cost(network, time_steps: int, *, kept_steps: int, segments: int, block_starts: set[int],
                  aux_inputs: tuple[int, ...] = (), loss_floats: int = 0) -> list[dict]:
    """Floats autograd keeps at its peak and the backward MACs of one sample, per layer.

    Each step a layer saves its input (the previous layer's spikes) and v = u − θ
    for Ψ, plus (1 − s) for a reset to zero, and a recurrent layer the zero state
    it starts each segment from; the readout saves its input and each live loss its
    log-probabilities (``loss_floats``, counted on the readout row). Backward: one weight
    gradient per synapse and step, and an input gradient wherever the input depends
    on weights (not at the first layer of a block, nor through the recurrent input
    at a segment start). An auxiliary head costs its forward and both gradients.
    """
    rows = []
    for i, layer in enumerate(network.layers):
        per_step = layer.n_in + layer.n_out * (1 + (layer.params.reset == "zero"))
        recurrent = layer.recurrent is not None
        state = kept_steps * per_step + (layer.n_out if recurrent else 0)
        grad_input = 0 if i in block_starts else time_steps * layer.feedforward_macs
        if recurrent:
            grad_input += (time_steps - segments) * layer.n_out * layer.n_out
        rows.append({"layer": i, "state": state, "forward_macs": time_steps * layer.macs_per_step,
                     "learning_macs": time_steps * layer.macs_per_step + grad_input})
    for b, n_in in enumerate(aux_inputs):
        rows.append({"layer": f"aux{b}", "state": 0, "forward_macs": 0,
                     "learning_macs": 3 * time_steps * n_in * network.n_classes})
    readout = network.readout
    rows.append({"layer": "readout", "state": kept_steps * readout.n_in + loss_floats,
                 "forward_macs": time_steps * readout.macs_per_step,
                 "learning_macs": 2 * time_steps * readout.macs_per_step})
    return rows
