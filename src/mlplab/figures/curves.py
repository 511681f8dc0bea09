"""Validation accuracy per epoch of several runs on one axes."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from mlplab.figures.colors import run_styles  # noqa: E402
from mlplab.runs import Run  # noqa: E402


def epochs_of(run: Run, tag: str) -> list[tuple[float, float]]:
    """(epoch, value) of each point of `tag`: its step (updates) over the updates an epoch makes.

    A run validated only after its last epoch (the presets) has one point, at that epoch, not at 1.
    """
    per_epoch = run.scalars["loss/train"][0][0]  # logged after every epoch: the first is one epoch's updates
    return [(step / per_epoch, value) for step, value in run.scalars.get(tag, [])]


def validation_curves(runs: list[tuple[str, Run]]) -> Figure:
    """acc/val against epoch, one labelled line per run; the legend beside the axes when there are many."""
    figure, axes = plt.subplots(figsize=(8, 5), layout="constrained")
    for (label, run), style in zip(runs, run_styles([run.folder for _, run in runs]), strict=True):
        if "loss/train" not in run.scalars:
            continue  # failed before its first epoch ended
        points = epochs_of(run, "acc/val")
        axes.plot([e for e, _ in points], [v for _, v in points], marker="o", label=label, **style)
    axes.set(xlabel="epoch", ylabel="validation accuracy", title="Validation accuracy per epoch")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))  # validations fall at epoch ends
    axes.grid(alpha=0.3)
    if not axes.get_lines():
        return figure  # no run ended an epoch: nothing to label
    if len(runs) <= 8:
        axes.legend(fontsize="small", loc="lower right")
    else:
        figure.legend(fontsize="small", loc="outside right upper")
    return figure
