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
    """Small multiples: one panel per activation, the function and its gradient together, three panels a row.

    On one shared pair of axes nine curves hide each other (relu under leaky_relu and identity); a panel
    each, on the same scales, keeps every function readable and still comparable at a glance.
    """
    columns = min(3, len(names))
    rows = -(-len(names) // columns)
    figure, grid = plt.subplots(
        rows, columns, figsize=(3.6 * columns, 2.6 * rows), sharex=True, sharey=True, squeeze=False,
        constrained_layout=True,
    )  # fmt: skip
    for axes, name in zip(grid.flat, names, strict=False):
        x, y, grad = function_and_gradient(name, low=-4.0, high=4.0)
        axes.plot(x, y, label="function")
        axes.plot(x, grad, color="tab:orange", linestyle="--", label="gradient (autograd)")
        axes.set_title(name)
        axes.set_ylim(-1.5, 4)
        axes.axhline(0, color="0.6", linewidth=0.6)
        axes.grid(alpha=0.3)
    for axes in grid.flat[len(names) :]:
        axes.set_visible(False)
    for axes in grid[-1]:
        axes.set_xlabel("x")
    grid.flat[0].legend(loc="upper left", fontsize="small")
    return figure
