"""Per-layer gradient norms of several runs on one axes: where gradients vanish, lines fall to the left."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from mlplab.figures.colors import run_styles  # noqa: E402
from mlplab.hparams import differing_labels  # noqa: E402
from mlplab.runs import Run  # noqa: E402

PREFIX = "weight_grad_norm/layer"


def layer_norms(run: Run, epoch_index: int = 0) -> list[float]:
    """The run's gradient norm per layer (layer 1 first), averaged over the steps of one epoch."""
    layers = sorted((t for t in run.scalars if t.startswith(PREFIX)), key=lambda t: int(t[len(PREFIX) :]))
    return [run.scalars[tag][epoch_index][1] for tag in layers]


def gradient_norm_figure(runs: list[Run], epoch_index: int = 0) -> Figure:
    """Gradient norm against layer, log scale, one line per run labelled by what differs between the runs."""
    figure, axes = plt.subplots(figsize=(7, 4.5), layout="constrained")
    folders = [run.folder for run in runs]
    for run, label, style in zip(runs, differing_labels(folders), run_styles(folders), strict=True):
        norms = layer_norms(run, epoch_index)
        axes.plot(range(1, len(norms) + 1), norms, marker="o", label=label, **style)
    axes.set(yscale="log", xlabel="layer (1 = next to the input)", ylabel="mean gradient norm")
    axes.set_title(f"Gradient norm per layer, epoch {epoch_index + 1}")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(alpha=0.3, which="both")
    if len(runs) <= 8:
        axes.legend(fontsize="small")
    else:  # beside the axes, inside the figure: over the lines it would hide them
        figure.legend(fontsize="small", loc="outside right upper")
    return figure
