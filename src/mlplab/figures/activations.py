"""The chapter's figures: each activation function and its gradient, computed by autograd."""

import matplotlib

matplotlib.use("Agg")  # files and TensorBoard only: no window, works without a display

import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from mlplab.models.activations import get_activation  # noqa: E402


def function_and_gradient(name: str, low: float = -8.0, high: float = 8.0) -> tuple[list, list, list]:
    """x over [low, high], the activation's value there, and its gradient by autograd."""
    x = torch.linspace(low, high, 801, requires_grad=True)
    y = get_activation(name).scratch(x)
    y.sum().backward()
    return x.tolist(), y.detach().tolist(), x.grad.tolist()


def activation_figure(name: str) -> Figure:
    """Two panels, as in the chapter: the function, and its gradient."""
    x, y, grad = function_and_gradient(name)
    figure, (left, right) = plt.subplots(1, 2, figsize=(8, 3))
    # Fixed margins that fit these labels: constrained_layout measures every text first, which
    # nearly doubles the drawing time of a figure every training run draws at its start.
    figure.subplots_adjust(left=0.07, right=0.98, bottom=0.17, top=0.9, wspace=0.25)
    left.plot(x, y)
    left.set(title=f"{name}(x)", xlabel="x")
    right.plot(x, grad, color="tab:orange")
    right.set(title=f"grad of {name}", xlabel="x")
    for axes in (left, right):
        axes.grid(alpha=0.3)
    return figure


def overview_figure(names: list[str]) -> Figure:
    """All activations on one axes and all their gradients on another, to compare."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    for name in names:
        x, y, grad = function_and_gradient(name)
        left.plot(x, y, label=name)
        right.plot(x, grad, label=name)
    left.set(title="activation", xlabel="x", ylim=(-2, 8))
    right.set(title="gradient (autograd)", xlabel="x", ylim=(-0.2, 1.3))
    for axes in (left, right):
        axes.grid(alpha=0.3)
    right.legend(loc="upper left", fontsize="small")
    return figure
