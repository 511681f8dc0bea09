"""ActivationFigure: the run's activation and its gradient, as an image in TensorBoard."""

from functools import cache

import numpy as np
import pytorch_lightning as pl

from mlplab.loggers import tensorboard_writer
from mlplab.models.classifier import MLPClassifier


class ActivationFigure(pl.Callback):
    """At the start of training, log the figure `python src/plot_activations.py` draws for this activation."""

    def on_fit_start(self, trainer: pl.Trainer, pl_module: MLPClassifier) -> None:
        writer = tensorboard_writer(trainer)
        if writer is None or not trainer.is_global_zero:  # a figure is for TensorBoard only
            return
        name = pl_module.activation_name
        writer.add_image(f"plots/activation_{name}", activation_image(name), global_step=0, dataformats="HWC")


@cache
def activation_image(name: str) -> np.ndarray:
    """The activation's figure as RGB pixels, drawn once per process: a sweep's jobs share it (60 ms each)."""
    import matplotlib.pyplot as plt  # matplotlib loads only when used

    from mlplab.figures.activations import activation_figure

    figure = activation_figure(name)
    figure.canvas.draw()
    pixels = np.asarray(figure.canvas.buffer_rgba())[:, :, :3].copy()  # what add_figure logs: RGB, no alpha
    plt.close(figure)
    pixels.flags.writeable = False  # shared by every run of this process
    return pixels
