"""Validation accuracy per epoch of several runs on one axes."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from mlplab.runs import Run  # noqa: E402


def validation_curves(runs: list[tuple[str, Run]]) -> Figure:
    """acc/val against epoch, one labelled line per run."""
    figure, axes = plt.subplots(figsize=(8, 5), constrained_layout=True)
    for label, run in runs:
        points = run.scalars.get("acc/val", [])
        axes.plot(range(1, len(points) + 1), [value for _, value in points], marker="o", label=label)
    axes.set(xlabel="epoch", ylabel="validation accuracy", title="Validation accuracy per epoch")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small", loc="lower right")
    return figure
