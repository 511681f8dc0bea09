"""The chapter's minibatch SGD, by hand: p <- p - lr * grad."""

from collections.abc import Callable, Iterable

import torch
from torch import nn
from torch.optim import Optimizer


class ScratchSGD(Optimizer):
    """Plain stochastic gradient descent whose update is written out here.

    Only the bookkeeping comes from torch's Optimizer base class (parameter groups, zero_grad,
    state_dict), so that Lightning can count steps, checkpoint and resume it like any optimiser.
    """

    def __init__(self, params: Iterable[nn.Parameter], lr: float) -> None:
        super().__init__(params, {"lr": lr})

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> None:
        """Move every parameter a step of size lr against its gradient."""
        if closure is not None:
            # Lightning runs its hooks (on_before_optimizer_step, clipping) inside the closure.
            with torch.enable_grad():
                closure()
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is not None:
                    param.add_(param.grad, alpha=-group["lr"])  # p -= lr * grad, without a temporary
