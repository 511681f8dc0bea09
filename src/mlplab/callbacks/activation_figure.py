"""ActivationFigure: the run's activation and its gradient, as an image in TensorBoard."""

import pytorch_lightning as pl

from mlplab.loggers import tensorboard_writer
from mlplab.models.classifier import MLPClassifier


class ActivationFigure(pl.Callback):
    """At the start of training, log the figure `python src/plot_activations.py` draws for this activation."""

    def on_fit_start(self, trainer: pl.Trainer, pl_module: MLPClassifier) -> None:
        writer = tensorboard_writer(trainer)
        if writer is None or not trainer.is_global_zero:  # a figure is for TensorBoard only
            return
        from mlplab.figures.activations import activation_figure  # matplotlib loads only when used

        name = pl_module.activation_name
        writer.add_figure(f"plots/activation_{name}", activation_figure(name), global_step=0)
