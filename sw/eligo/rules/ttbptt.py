"""Temporally-truncated local BPTT (after Guo, Fouda, Eltawil, Salama, Front. Neurosci. 2023).

Layers are grouped into blocks of ``block_size``; every block but the last gets a
trainable auxiliary linear classifier, the last uses the network's readout. Block
inputs are detached (no gradient between blocks) and the state is detached every
``truncation`` steps (no gradient between segments; values carry on). Inside a
segment and a block, gradients flow by BPTT on the per-step cross-entropy of the
block's classifier; the update is applied at the end of each segment (or once
per sample). The paper's code is not public: this is the generic reading of its
abstract, documented in docs/rules.md.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from eligo.rules.base import LearningRule
from eligo.rules.bptt import autograd_cost
from eligo.snn import SNN, NetState


class TruncatedLocalBPTT(LearningRule):
    name = "ttbptt"
    allowed_updates = ("window", "sample")

    def __init__(self, network: SNN, *, truncation: int = 5, block_size: int = 1, seed: int = 0, **common):
        if truncation < 1:
            raise ValueError(f"truncation length must be >= 1, got {truncation}")
        if block_size < 1:
            raise ValueError(f"block size must be >= 1, got {block_size}")
        common.setdefault("update_every", "window")
        super().__init__(network, window=truncation, **common)
        self.truncation, self.block_size = truncation, block_size
        indices = list(range(len(network.layers)))
        self.blocks = [indices[i:i + block_size] for i in range(0, len(indices), block_size)]
        generator = torch.Generator().manual_seed(seed + 104729)
        self.aux = nn.ModuleList()
        for block in self.blocks[:-1]:
            n_in = network.layers[block[-1]].n_out
            head = nn.Linear(n_in, network.n_classes, bias=False)
            with torch.no_grad():
                head.weight.copy_((torch.rand(head.weight.shape, generator=generator) * 2 - 1) * (3.0 / n_in) ** 0.5)
            self.aux.append(head)

    def named_trainables(self):
        params = dict(self.network.named_parameters())
        params.update({f"aux.{name}": p for name, p in self.aux.named_parameters()})
        return params

    def reset_state(self, batch):
        self.state = self.network.init_state(batch)
        self.segment_loss = None
        self.segment_steps = 0

    def learn_step(self, x, labels):
        net = self.network
        if self.t % self.truncation == 0:
            self.state = NetState([type(s)(*(v.detach() for v in s)) for s in self.state.layers],
                                  self.state.readout.detach())
        with torch.enable_grad():
            layer_states = list(self.state.layers)
            loss = 0.0
            for b, block in enumerate(self.blocks):
                x = x.detach()
                for i in block:
                    record, layer_states[i] = net.layers[i].step(x, layer_states[i])
                    x = record.s
                if b < len(self.aux):
                    loss = loss + F.cross_entropy(self.aux[b](x), labels)
            logits = net.readout.step(x, self.state.readout)
            self.state = NetState(layer_states, logits)
            if self.in_window():
                loss = loss + F.cross_entropy(logits, labels)
                self.losses.append(float(loss.detach()))
                self.segment_loss = loss if self.segment_loss is None else self.segment_loss + loss
                self.segment_steps += 1
            if self.segment_loss is not None and ((self.t + 1) % self.truncation == 0
                                                  or self.t == self.time_steps - 1):
                (self.segment_loss / self.segment_steps).backward()
                self.segment_loss, self.segment_steps = None, 0
        return logits.detach()

    def cost_formula(self, time_steps: int) -> list[dict]:
        segments = -(-time_steps // self.truncation)
        return autograd_cost(self.network, time_steps, kept_steps=min(self.truncation, time_steps), segments=segments,
                             block_starts={block[0] for block in self.blocks},
                             aux_inputs=tuple(head.in_features for head in self.aux),
                             loss_floats=min(self.truncation, time_steps) * len(self.blocks) * self.network.n_classes)
