"""Per-layer gradient norms of several runs on one axes: where gradients vanish, lines fall to the left."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from mlplab.runs import Run  # noqa: E402


def layer_norms(run: Run, epoch_index: int = 0) -> list[float]:
    """The run's gradient norm per layer (layer 1 first), averaged over the steps of one epoch."""
    layers = sorted((t for t in run.scalars if t.startswith("weight_grad_norm/layer")), key=lambda t: int(t[22:]))
    return [run.scalars[tag][epoch_index][1] for tag in layers]


def gradient_norm_figure(runs: list[Run], epoch_index: int = 0) -> Figure:
    """Gradient norm against layer, log scale, one line per run labelled by its activation."""
    figure, axes = plt.subplots(figsize=(6, 4), constrained_layout=True)
    for run in runs:
        norms = layer_norms(run, epoch_index)
        hidden = "-".join(str(h) for h in run.config.model.hidden)
        axes.plot(range(1, len(norms) + 1), norms, marker="o", label=f"{run.config.model.activation} ({hidden})")
    axes.set(yscale="log", xlabel="layer (1 = next to the input)", ylabel="mean gradient norm")
    axes.set_title(f"Gradient norm per layer, epoch {epoch_index + 1}")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(alpha=0.3, which="both")
    axes.legend()
    return figure
