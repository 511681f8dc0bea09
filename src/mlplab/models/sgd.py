"""The chapter's minibatch SGD, by hand: p <- p - lr * grad, then forget the gradient."""

from collections.abc import Callable, Iterable, Iterator
from typing import Any, NoReturn

import torch
from torch import nn
from torch.optim import Optimizer

NO_STEP_HOOKS = "ScratchSGD's step is the chapter's loop and calls no step hooks"


class ScratchSGD(Optimizer):
    """Plain stochastic gradient descent whose update and gradient reset are written out here.

    Only the bookkeeping comes from torch's Optimizer base class (parameter groups, state_dict),
    so that Lightning can count steps, checkpoint and resume it like any optimiser.
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
        for group, param in self._with_grad():
            param.add_(param.grad, alpha=-group["lr"])  # p -= lr * grad, without a temporary

    # torch's Optimizer wraps a subclass's step, on first use, in a profiler record and calls of the
    # step hooks, unless the step says it is wrapped already: 20 us in a warm loop, 4-5% of the
    # chapter's scratch update in training. This update is the chapter's loop and has no hooks, so it
    # runs bare; registering one is refused below rather than ignored.
    step.hooked = True

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients, as the chapter does after each step (None by default, as torch's optimisers)."""
        for _, param in self._with_grad():
            if set_to_none:
                param.grad = None
            else:
                param.grad.zero_()

    def _with_grad(self) -> Iterator[tuple[dict[str, Any], nn.Parameter]]:
        """Each parameter that has a gradient, with its group (which holds its lr)."""
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is not None:
                    yield group, param

    def register_step_pre_hook(self, hook: Callable[..., object]) -> NoReturn:
        raise NotImplementedError(NO_STEP_HOOKS)

    def register_step_post_hook(self, hook: Callable[..., object]) -> NoReturn:
        raise NotImplementedError(NO_STEP_HOOKS)
