"""The confusion matrix as a figure: counts per true and predicted class, with its title and colour bar."""

import matplotlib

matplotlib.use("Agg")  # files and TensorBoard only: no window, works without a display

from matplotlib.figure import Figure  # noqa: E402
from torchmetrics.classification import MulticlassConfusionMatrix  # noqa: E402


def confusion_figure(confusion: MulticlassConfusionMatrix, classes: list[str], title: str) -> Figure:
    """torchmetrics' drawing of the matrix, titled, with a colour bar saying what a cell's colour counts."""
    figure, axes = confusion.plot(labels=list(classes))
    figure.set_size_inches(10, 8)
    figure.colorbar(axes.images[0], ax=axes, label="test images", shrink=0.8)
    axes.set_title(title, fontsize="medium")
    return figure
