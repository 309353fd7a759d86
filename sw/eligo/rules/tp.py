"""Traces Propagation (Pes, Yin, Stuijk, Corradi, 2025): forward-only, layer-local contrastive learning.

Two paths run forward through the same weights: the input path (the sample) and
the target path (the label). At layer 1 the target path is a frozen LIF layer S
fed the one-hot label every step; above it, the target spikes go through the
layer's own W. Every layer keeps spike traces ``ε = β·ε + s`` of both paths and
learns at every step from

    z[b, b'] = ε[b]·ε̃[b'],   y[b, b'] = softmax_b'(−‖ε̃_prev[b] − ε̃_prev[b']‖),
    E = mean_b Σ_b' −y[b, b']·log softmax_b'(z[b, b'])

with ε̃_prev the previous layer's target trace (the filtered label at layer 1).
The gradient of E is taken on a graph one step and one layer deep (states,
traces and inputs detached), as in the authors' code. The readout learns from
``(softmax(m) − y*)ᵀ·q_out``, q_out its input filtered by its own leak β_out: the
exact gradient of the per-step loss for any β_out (the authors' code uses ε_L,
which is that only when β_out = β_tr). Needs a batch of at least 2 (pairs of samples).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from eligo.rules.base import LearningRule
from eligo.snn import SNN, LIFLinear, LIFState


def contrastive_loss(trace: torch.Tensor, target_trace: torch.Tensor, previous_target: torch.Tensor) -> torch.Tensor:
    """TP's layer loss E_l from this layer's two traces and the previous layer's target trace."""
    with torch.no_grad():
        diff = previous_target[:, None, :] - previous_target[None, :, :]
        soft_targets = torch.softmax(-torch.sqrt((diff * diff).sum(-1) + 1e-9), dim=1)
    logits = trace @ target_trace.t()
    return -(soft_targets * torch.log_softmax(logits, dim=1)).sum(1).mean()


class TracesPropagation(LearningRule):
    name = "tp"

    def __init__(self, network: SNN, *, trace_beta: float = 0.875, seed: int = 0, **common):
        common.setdefault("update_every", "step")
        super().__init__(network, **common)
        if not 0.0 <= trace_beta <= 1.0:
            raise ValueError(f"trace_beta must be in [0, 1], got {trace_beta}")
        first = network.layers[0]
        self.trace_beta = trace_beta
        generator = torch.Generator().manual_seed(seed + 15485863)
        self.label_layer = LIFLinear(network.n_classes, first.n_out, first.params, gain=2.0, generator=generator)
        self.label_layer.weight.requires_grad_(False)

    def reset_state(self, batch):
        if batch < 2:
            raise ValueError("TP's contrastive loss compares samples: it needs a batch of at least 2")
        net = self.network
        self.state = net.init_state(batch)
        self.target_state = [layer.init_state(batch) for layer in net.layers]
        self.eps = [torch.zeros(batch, layer.n_out) for layer in net.layers]
        self.eps_target = [torch.zeros(batch, layer.n_out) for layer in net.layers]
        self.eps_label = torch.zeros(batch, net.n_classes)
        self.q_out = torch.zeros(batch, net.readout.n_in)

    def learning_state(self):
        targets = [v for s in self.target_state for v in s]
        return [*self.eps, *self.eps_target, self.eps_label, self.q_out, *targets]

    def learn_step(self, x, labels):
        net, beta = self.network, self.trace_beta
        label = F.one_hot(labels, net.n_classes).float()
        self.eps_label = beta * self.eps_label + label
        previous_target = self.eps_label
        x_target = label
        layer_states = []
        for i, layer in enumerate(net.layers):
            with torch.enable_grad():
                record, state = layer.step(x.detach(), LIFState(*(v.detach() for v in self.state.layers[i])))
                eps = beta * self.eps[i] + record.s
                target_layer = self.label_layer if i == 0 else layer
                with torch.set_grad_enabled(i > 0):
                    target_record, self.target_state[i] = target_layer.step(
                        x_target.detach(), LIFState(*(v.detach() for v in self.target_state[i])))
                eps_target = beta * self.eps_target[i] + target_record.s
                if self.in_window():
                    params = [p for p in (layer.weight, layer.recurrent) if p is not None]
                    grads = torch.autograd.grad(contrastive_loss(eps, eps_target, previous_target), params)
                    for p, g in zip(params, grads):
                        p.grad += g
            self.eps[i], self.eps_target[i] = eps.detach(), eps_target.detach()
            self.target_state[i] = LIFState(*(v.detach() for v in self.target_state[i]))
            layer_states.append(LIFState(*(v.detach() for v in state)))
            previous_target = self.eps_target[i]
            x, x_target = record.s.detach(), target_record.s.detach()
        with torch.no_grad():
            logits = net.readout.step(x, self.state.readout)
            self.state = type(self.state)(layer_states, logits)
            self.q_out = net.readout.beta * self.q_out + x
            if self.in_window():
                error = self.output_error(logits, labels)
                net.readout.weight.grad += net.readout.weight_outer(error, self.q_out)
        return logits

    def cost_formula(self, time_steps: int, batch: int = 2) -> list[dict]:
        """Per sample of a batch of ``batch``: traces and target-path state kept; MACs of both paths and E_l.

        State per layer: ε, ε̃, and the target path's membrane and spikes (4·n), and the
        readout's filtered input; the one-step graph is not counted. Learning MACs per step: the target path's
        forward (S at layer 1, W_l above), the weight gradient of both paths, the
        B×B similarity and distance products per sample (batch·n each).
        """
        learn_steps = time_steps - self.learn_from
        rows = []
        for i, layer in enumerate(self.network.layers):
            target_fwd = self.network.n_classes * layer.n_out if i == 0 else layer.macs_per_step
            weight_grads = layer.macs_per_step * (1 if i == 0 else 2)
            pairwise = batch * (layer.n_out + layer.n_in)
            rows.append({"layer": i, "state": 4 * layer.n_out,
                         "forward_macs": time_steps * layer.macs_per_step,
                         "learning_macs": time_steps * target_fwd + learn_steps * (weight_grads + pairwise)})
        readout = self.network.readout
        rows.append({"layer": "readout", "state": readout.n_in, "forward_macs": time_steps * readout.macs_per_step,
                     "learning_macs": learn_steps * readout.macs_per_step})
        rows[0]["state"] += self.network.n_classes
        return rows
