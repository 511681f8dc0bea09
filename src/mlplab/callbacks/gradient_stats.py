"""GradientStats: per-layer gradient norms and saturated hidden units, logged once per epoch."""

import pytorch_lightning as pl
import torch
from torch import Tensor
from torch.optim import Optimizer

from mlplab.data.loader import Batch, StepBatches, minibatches
from mlplab.loggers import tensorboard_writer
from mlplab.models.activations import get_activation
from mlplab.models.classifier import MLPClassifier


class GradientStats(pl.Callback):
    """Log `weight_grad_norm/layerK` (mean over every `every_n_steps`-th step) and `saturated/layerK` each epoch.

    A hidden unit's activation counts as saturated where the activation's derivative is below
    `threshold`: the flat tails of sigmoid and tanh, the negative side of ReLU. Measured on the
    epoch's first training batch with the weights at the end of the epoch.
    """

    def __init__(self, threshold: float = 0.01, every_n_steps: int = 10, histograms: bool = False) -> None:
        self.threshold, self.every_n_steps, self.histograms = threshold, every_n_steps, histograms
        self.norm_sums: Tensor | None = None
        self.steps = 0
        self.probe: Tensor | None = None
        self.last_grads: list[Tensor] = []

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.norm_sums, self.steps, self.probe = None, 0, None

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Batch | StepBatches, batch_idx: int
    ) -> None:
        if self.probe is None:
            self.probe = next(iter(minibatches(batch)))[0]  # the first minibatch's images

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: MLPClassifier, optimizer: Optimizer) -> None:
        if trainer.global_step % self.every_n_steps:
            return  # a sample of the steps estimates the mean well, at a fraction of the cost
        # Summed as a tensor: no .item() here, which would wait for the GPU every step.
        grads = [w.grad.detach() for w in pl_module.layer_weights()]
        norms = torch.stack([g.norm() for g in grads])
        if self.histograms:  # the optimiser may free the gradients before the epoch ends: keep the last sample
            self.last_grads = [g.clone() for g in grads]
        self.norm_sums = norms if self.norm_sums is None else self.norm_sums + norms
        self.steps += 1

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: MLPClassifier) -> None:
        if self.norm_sums is None:
            return
        values = {f"weight_grad_norm/layer{i}": norm for i, norm in enumerate(self.norm_sums / self.steps, start=1)}
        for i, fraction in enumerate(self.saturated_fractions(pl_module), start=1):
            values[f"saturated/layer{i}"] = fraction
        pl_module.log_dict(values, sync_dist=True)  # under DDP, the mean over the ranks
        writer = tensorboard_writer(trainer) if self.histograms else None
        if writer is not None:  # histograms are for TensorBoard only
            for i, weight in enumerate(pl_module.layer_weights(), start=1):
                writer.add_histogram(f"weights/layer{i}", weight, trainer.current_epoch)
                writer.add_histogram(f"weight_grads/layer{i}", self.last_grads[i - 1], trainer.current_epoch)

    def saturated_fractions(self, pl_module: MLPClassifier) -> list[Tensor]:
        """For each hidden layer, the fraction of the probe batch's activations with derivative below threshold."""
        activation = get_activation(pl_module.activation_name).scratch
        # As training computes them: under mixed precision, in autocast (the probe is in its dtype).
        with torch.no_grad(), pl_module.trainer.precision_plugin.forward_context():
            preactivations = pl_module.hidden_preactivations(self.probe)
        fractions = []
        with torch.enable_grad():
            for Z in preactivations:
                Z = Z.detach().requires_grad_()
                (slope,) = torch.autograd.grad(activation(Z).sum(), Z)
                fractions.append((slope.abs() < self.threshold).float().mean())
        return fractions
