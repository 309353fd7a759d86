"""S-TLLR (Apolinario & Roy, TMLR 2025): STDP-like eligibility × a per-step learning signal.

Per layer (i post, j pre), with Ψ the neuron's surrogate::

    q_j[t] = λ_pre·q_j[t−1] + x_j[t]          h_i[t] = λ_post·h_i[t−1] + Ψ(u_i[t])
    e_ij[t] = α_pre·Ψ(u_i[t])·q_j[t] + α_post·h_i[t−1]·x_j[t]
    G_ij  += m_i[t]·e_ij[t]   for t ≥ T_l,   W ← optimiser(W, G)

m is the learning signal ∂L[t]/∂s (per-step cross-entropy), found by spatial
back-propagation within the step (``signal="bp"``), or by a fixed random
projection of the output error (``"dfa"``) or of its sign (``"sdfa"``).
``EligibilityRule`` holds the traces and the update; subclasses only say where m
comes from, which is all TESS changes.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from eligo.rules.base import LearningRule
from eligo.snn import SNN, StepRecord

SIGNALS = ("bp", "dfa", "sdfa")


class EligibilityRule(LearningRule):
    """Traces q, h and the two-term eligibility shared by S-TLLR and TESS (no autograd).

    ``layer_lr_scale``: per hidden layer, a factor on ``lr`` (the readout keeps ``lr``), for a signal whose scale
    differs from layer to layer (the chip's TESS twin).
    """

    def __init__(self, network: SNN, *, lambda_post: float = 0.2, lambda_pre: float = 0.75,
                 alpha_post: float = -1.0, alpha_pre: float = 1.0, layer_lr_scale: Sequence[float] | None = None,
                 **common):
        super().__init__(network, **common)
        for label, value in (("lambda_post", lambda_post), ("lambda_pre", lambda_pre)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{label} must be in [0, 1], got {value}")
        if layer_lr_scale is not None and (len(layer_lr_scale) != len(network.layers)
                                           or not all(scale > 0 for scale in layer_lr_scale)):
            raise ValueError(f"layer_lr_scale must be one positive factor per hidden layer "
                             f"({len(network.layers)}), got {list(layer_lr_scale)}")
        self.lambda_post, self.lambda_pre = lambda_post, lambda_pre
        self.alpha_post, self.alpha_pre = alpha_post, alpha_pre
        self.layer_lr_scale = None if layer_lr_scale is None else tuple(float(s) for s in layer_lr_scale)
        self.last_signals: list[torch.Tensor] = []

    def param_groups(self) -> list[dict]:
        if self.layer_lr_scale is None:
            return super().param_groups()
        scales = {id(p): scale for layer, scale in zip(self.network.layers, self.layer_lr_scale)
                  for p in layer.parameters()}
        return [{"params": [p], "lr": self.lr * scales.get(id(p), 1.0)} for p in self.named_trainables().values()]

    @property
    def factors(self) -> list[float]:
        """[λ_post, λ_pre, α_post, α_pre], the order of the S-TLLR code."""
        return [self.lambda_post, self.lambda_pre, self.alpha_post, self.alpha_pre]

    def reset_state(self, batch: int) -> None:
        net = self.network
        self.state = net.init_state(batch)
        self.q = [torch.zeros(batch, layer.n_in) for layer in net.layers]
        self.q_rec = [torch.zeros(batch, layer.n_out) if layer.recurrent is not None else None for layer in net.layers]
        self.h = [torch.zeros(batch, layer.n_out) if self.alpha_post else None for layer in net.layers]
        self.q_out = torch.zeros(batch, net.readout.n_in)

    def learning_state(self) -> list[torch.Tensor]:
        return [t for group in (self.q, self.q_rec, self.h, [self.q_out]) for t in group if t is not None]

    @property
    def traces(self) -> list[dict[str, torch.Tensor | None]]:
        """Per layer: pre trace q, recurrent pre trace, post trace h (None where not kept)."""
        return [{"q": q, "q_rec": qr, "h": h} for q, qr, h in zip(self.q, self.q_rec, self.h)]

    def learning_signals(self, records: list[StepRecord], psis: list[torch.Tensor], error: torch.Tensor,
                         labels: torch.Tensor) -> list[torch.Tensor]:
        raise NotImplementedError

    @torch.no_grad()
    def learn_step(self, x, labels):
        net = self.network
        records, logits, self.state = net.step(x, self.state)
        psis = [layer.psi(r.u) for layer, r in zip(net.layers, records)]
        h_prev = list(self.h)
        for i, (layer, r, psi) in enumerate(zip(net.layers, records, psis)):
            self.q[i] = self.lambda_pre * self.q[i] + r.x
            if self.q_rec[i] is not None:
                self.q_rec[i] = self.lambda_pre * self.q_rec[i] + r.s_prev
            if self.h[i] is not None:
                self.h[i] = self.lambda_post * self.h[i] + psi
        self.q_out = net.readout.beta * self.q_out + records[-1].s
        if not self.in_window():
            return logits
        error = self.output_error(logits, labels)
        net.readout.weight.grad += net.readout.weight_outer(error, self.q_out)
        self.last_signals = self.learning_signals(records, psis, error, labels)
        for i, (layer, r, psi, m) in enumerate(zip(net.layers, records, psis, self.last_signals)):
            causal = self.alpha_pre * psi * m
            layer.weight.grad += layer.weight_outer(causal, self.q[i])
            if layer.recurrent is not None:
                layer.recurrent.grad += causal.t() @ self.q_rec[i]
            if self.alpha_post:
                noncausal = self.alpha_post * h_prev[i] * m
                layer.weight.grad += layer.weight_outer(noncausal, r.x)
                if layer.recurrent is not None:
                    layer.recurrent.grad += noncausal.t() @ r.s_prev
        return logits

    # -- cost formulas (floats kept, MACs spent) per layer, one sample ------------
    def signal_macs(self, index: int) -> int:
        raise NotImplementedError

    def readout_signal_macs(self) -> int:
        return 0

    def cost_formula(self, time_steps: int) -> list[dict]:
        learn_steps = time_steps - self.learn_from
        terms = 1 + (self.alpha_post != 0)
        rows = []
        for i, layer in enumerate(self.network.layers):
            state = layer.n_in + (layer.n_out if layer.recurrent is not None else 0)
            state += layer.n_out if self.alpha_post else 0
            macs = learn_steps * (terms * layer.macs_per_step + self.signal_macs(i))
            rows.append({"layer": i, "state": state, "learning_macs": macs,
                         "forward_macs": time_steps * layer.macs_per_step})
        readout = self.network.readout
        rows.append({"layer": "readout", "state": readout.n_in,
                     "learning_macs": learn_steps * (readout.macs_per_step + self.readout_signal_macs()),
                     "forward_macs": time_steps * readout.macs_per_step})
        return rows


class STLLR(EligibilityRule):
    """``feedback``: per hidden layer, the DFA matrix [C, n_l] to use instead of the seeded random one (the chip's
    square wave, for its twin)."""

    name = "stllr"

    def __init__(self, network: SNN, *, signal: str = "bp", seed: int = 0,
                 feedback: Sequence[torch.Tensor] | None = None, **kwargs):
        super().__init__(network, **kwargs)
        if signal not in SIGNALS:
            raise ValueError(f"stllr signal must be one of {SIGNALS}, got {signal!r}")
        self.signal = signal
        if feedback is not None:
            shapes = [(network.n_classes, layer.n_out) for layer in network.layers]
            if signal == "bp" or [tuple(b.shape) for b in feedback] != shapes:
                raise ValueError(f"stllr feedback is for the dfa and sdfa signals: one [C, n_l] matrix per hidden "
                                 f"layer {shapes}; got signal {signal!r}, {[tuple(b.shape) for b in feedback]}")
            self.feedback = [torch.as_tensor(b, dtype=torch.float32) for b in feedback]
        else:
            generator = torch.Generator().manual_seed(seed + 7919)
            # DFA feedback: fixed kaiming-uniform [C, n_l] per layer, as in the S-TLLR code's TrainingHook.
            self.feedback = [] if signal == "bp" else [
                (torch.rand(network.n_classes, layer.n_out, generator=generator) * 2 - 1) * (3.0 / layer.n_out) ** 0.5
                for layer in network.layers]

    def learning_signals(self, records, psis, error, labels):
        net = self.network
        if self.signal != "bp":
            drive = torch.sign(error) if self.signal == "sdfa" else error
            return [drive @ b for b in self.feedback]
        signals = [net.readout.input_grad(error)]
        for layer, psi in zip(reversed(net.layers[1:]), reversed(psis[1:])):
            signals.insert(0, layer.input_grad(psi * signals[0]))
        return signals

    def signal_macs(self, index):
        if self.signal != "bp":
            return self.network.n_classes * self.network.layers[index].n_out
        return self.network.layers[index].feedforward_macs if index > 0 else 0

    def readout_signal_macs(self):
        return self.network.readout.macs_per_step if self.signal == "bp" else 0
