"""The interface every learning rule shares: step the network one time step, learn locally.

A rule owns its network, its traces, its hyper-parameters and its optimiser; nothing
lives in globals. ``begin_sample`` → ``step`` × T → ``end_sample`` trains on one
(batched) sample; ``update_every`` says when the accumulated gradient estimate is
applied: after every ``step``, at the end of every ``window`` of ``window`` steps, or
once per ``sample``. ``last_gradients`` keeps the estimate G (summed over the steps
since the previous update) that the optimiser consumed, by parameter name; with
plain SGD the weight change is exactly ``ΔW = −lr·G``.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from eligo.snn import SNN

UPDATE_EVERY = ("step", "window", "sample")
OPTIMIZERS = ("sgd", "adam")


class LearningRule:
    name: ClassVar[str]
    allowed_updates: ClassVar[tuple[str, ...]] = UPDATE_EVERY

    def __init__(self, network: SNN, *, lr: float = 1e-3, optimizer: str = "adam", update_every: str = "sample",
                 window: int = 1, learn_from: int = 0):
        if update_every not in self.allowed_updates:
            raise ValueError(f"{self.name}: update_every must be one of {self.allowed_updates}, got {update_every!r}")
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
        if not lr > 0:
            raise ValueError(f"learning rate must be positive, got {lr}")
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        if learn_from < 0:
            raise ValueError(f"learn_from (T_l) must be >= 0, got {learn_from}")
        self.network = network
        self.lr, self.update_every, self.window, self.learn_from = lr, update_every, window, learn_from
        self.optimizer_name = optimizer
        self.last_gradients: dict[str, torch.Tensor] = {}
        self._optimizer: torch.optim.Optimizer | None = None
        self.t = 0
        self.time_steps = 0

    # -- what subclasses provide -------------------------------------------------
    def named_trainables(self) -> dict[str, nn.Parameter]:
        """Parameters this rule changes (the network's, plus any auxiliary ones)."""
        return dict(self.network.named_parameters())

    def reset_state(self, batch: int) -> None:
        raise NotImplementedError

    def learn_step(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Advance one step, accumulate the rule's gradient estimate into ``.grad``; return the logits."""
        raise NotImplementedError

    def learning_state(self) -> list[torch.Tensor]:
        """Tensors kept from step to step only for learning (traces); the memory accounting reads them."""
        return []

    # -- the shared loop ---------------------------------------------------------
    def param_groups(self) -> list[dict]:
        """The optimiser's parameter groups: every trainable at ``lr`` (a rule may give some their own rate)."""
        return [{"params": list(self.named_trainables().values())}]

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        if self._optimizer is None:
            cls = torch.optim.SGD if self.optimizer_name == "sgd" else torch.optim.Adam
            self._optimizer = cls(self.param_groups(), lr=self.lr)
        return self._optimizer

    def begin_sample(self, batch: int, time_steps: int) -> None:
        if not 0 <= self.learn_from < time_steps:
            raise ValueError(f"learn_from (T_l) = {self.learn_from} must be below the {time_steps} time steps")
        self.t, self.time_steps = 0, time_steps
        self.losses: list[float] = []
        self.optimizer.zero_grad(set_to_none=False)
        for p in self.named_trainables().values():
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        self.reset_state(batch)

    def step(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.t >= self.time_steps:
            raise RuntimeError(f"{self.name}: more steps than the {self.time_steps} announced by begin_sample")
        logits = self.learn_step(x.float(), labels)
        self.t += 1
        last = self.t == self.time_steps
        if self.update_every == "step" and self.t > self.learn_from:
            self.apply_update()
        elif self.update_every == "window" and (self.t % self.window == 0 or last):
            self.apply_update()
        return logits

    def end_sample(self) -> None:
        if self.update_every == "sample":
            self.apply_update()

    def apply_update(self) -> None:
        params = self.named_trainables()
        self.last_gradients = {name: p.grad.detach().clone() for name, p in params.items()}
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=False)

    def train_sample(self, spikes: torch.Tensor, labels: torch.Tensor) -> float:
        """Learn from ``[B, T, n_inputs]`` spikes; returns the mean of the rule's own loss."""
        self.begin_sample(spikes.shape[0], spikes.shape[1])
        for t in range(spikes.shape[1]):
            self.step(spikes[:, t], labels)
        self.end_sample()
        return sum(self.losses) / max(len(self.losses), 1)

    @torch.no_grad()
    def predict(self, spikes: torch.Tensor) -> torch.Tensor:
        return self.network(spikes)

    # -- helpers for the local rules ---------------------------------------------
    def in_window(self) -> bool:
        return self.t >= self.learn_from

    def output_error(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """(softmax(logits) − onehot)/B: the gradient of the batch-mean cross-entropy; records the loss."""
        self.losses.append(float(F.cross_entropy(logits, labels)))
        return (torch.softmax(logits, dim=1) - F.one_hot(labels, logits.shape[1]).float()) / logits.shape[0]
