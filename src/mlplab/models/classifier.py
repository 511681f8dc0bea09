"""What the scratch and the concise MLP share: the training step, the loss, torchmetrics accuracy, per-epoch logging."""

import logging
import math
from collections.abc import Callable, Iterable
from itertools import islice
from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from mlplab.data.loader import Batch, StepBatches, minibatches
from mlplab.models.epoch_outputs import EpochOutputs

NUM_INPUTS, NUM_CLASSES = 28 * 28, 10
log = logging.getLogger(__name__)


def weight_std(init_std: float | None, fan_in: int) -> float:
    """The spread of a layer's initial weights: init_std, or He's sqrt(2 / fan_in) when it is None.

    He's choice keeps the variance of ReLU activations the same from layer to layer.
    """
    return init_std if init_std is not None else math.sqrt(2 / fan_in)


class MLPClassifier(pl.LightningModule):
    """A Fashion-MNIST classifier whose subclasses define only the network; the optimiser comes from the config."""

    def __init__(
        self,
        optimizer: Callable[[Iterable[nn.Parameter]], Optimizer],
        activation: str,
        num_classes: int,
        scheduler: Callable[[Optimizer], LRScheduler] | None = None,
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__()
        # The training step below spells out the update, as the chapter does; Lightning's automatic
        # optimisation would wrap the same three calls in a closure, at a cost per step.
        self.automatic_optimization = False
        # Partials from the config, completed with the parameters (and the optimiser) later.
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self.activation_name, self.label_smoothing = activation, label_smoothing
        # One loss and one accuracy metric per stage; validate_args=False skips input checks.
        self.metrics = nn.ModuleDict()
        for stage in ("train", "val", "test"):
            self.metrics[f"{stage}_loss"] = MeanMetric()
            self.metrics[f"{stage}_acc"] = MulticlassAccuracy(num_classes, average="micro", validate_args=False)
        self.epoch_outputs = {stage: EpochOutputs() for stage in ("train", "val", "test")}

    def layer_weights(self) -> list[Tensor]:
        """The weight matrix of each layer, from the input to the output."""
        raise NotImplementedError

    def hidden_preactivations(self, X: Tensor) -> list[Tensor]:
        """What each hidden layer feeds into its activation function, for a batch X."""
        raise NotImplementedError

    def num_parameters(self) -> int:
        """How many numbers the optimiser trains."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def evaluate(self, batch: Batch, stage: str) -> Tensor:
        """Cross-entropy of one batch; its loss and logits are kept for the epoch's metrics."""
        images, labels = batch
        logits = self(images)
        loss = F.cross_entropy(logits, labels, label_smoothing=self.label_smoothing if stage == "train" else 0.0)
        # Kept as tensors and handed to torchmetrics once per epoch: a Metric.update, a self.log, even
        # an argmax (20 us on this CPU) per step costs a sizeable part of a step this small.
        self.epoch_outputs[stage].append(loss, logits, labels)
        return loss

    def log_epoch(self, stage: str) -> dict[str, Tensor]:
        """Log the stage's epoch loss and accuracy (torchmetrics syncs them across processes)."""
        losses, sizes, logits, labels = self.epoch_outputs[stage].take()
        loss_metric, acc_metric = self.metrics[f"{stage}_loss"], self.metrics[f"{stage}_acc"]
        loss_metric.update(losses, weight=sizes)
        acc_metric.update(logits, labels)  # the class of each row's highest logit
        values = {f"loss/{stage}": loss_metric.compute(), f"acc/{stage}": acc_metric.compute()}
        loss_metric.reset()
        acc_metric.reset()
        # Lightning's x-axis counts its own steps, one per data.batches_per_step updates; a logged
        # "step" makes it the number of updates, whatever the grouping. Synced already: sync_dist only
        # tells Lightning so.
        self.log_dict({**values, "step": float(self.trainer.global_step)}, sync_dist=True)
        return values

    def training_step(self, batch: Batch | StepBatches, batch_idx: int) -> Tensor:
        """The chapter's loop body for each minibatch: its loss, zero the gradients, backward, update.

        The minibatches of a StepBatches (data.batches_per_step > 1) get one update each, in order, each
        through Lightning's optimiser wrapper, so hooks run and global_step counts updates as usual.
        Returns each minibatch's loss, in order, for the divergence guard.
        """
        step = minibatches(batch)
        if self.trainer.max_steps >= 0:  # Lightning checks max_steps between its steps only
            step = islice(step, self.trainer.max_steps - self.trainer.global_step)
        optimizer = self.optimizers()
        losses = []
        for minibatch in step:
            loss = self.evaluate(minibatch, "train")
            optimizer.zero_grad()
            self.manual_backward(loss)
            optimizer.step()
            losses.append(loss.detach())
        return torch.stack(losses)

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self.evaluate(batch, "val")

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self.evaluate(batch, "test")

    def on_validation_epoch_end(self) -> None:
        self.log_epoch("val")

    def on_test_epoch_end(self) -> None:
        self.log_epoch("test")

    def on_train_epoch_end(self) -> None:
        """Log the training metrics and learning rate, print the chapter's line for the epoch."""
        train = self.log_epoch("train")
        line = f"epoch {self.current_epoch + 1}, loss {train['loss/train']:.4f}, train acc {train['acc/train']:.3f}"
        val_acc = self.trainer.callback_metrics.get("acc/val")
        if val_acc is not None:
            # Without a validation split the data module validates on the test set, as the chapter does.
            label = "test acc" if getattr(self.trainer.datamodule, "val_is_test", False) else "val acc"
            line += f", {label} {val_acc:.3f}"
        if self.trainer.is_global_zero:
            log.info(line)
        optimizer = self.optimizers()
        # The rate this epoch trained with, on the same x-axis as the metrics (LearningRateMonitor's
        # counts Lightning's steps).
        self.log("lr", optimizer.param_groups[0]["lr"], sync_dist=True)
        scheduler = self.lr_schedulers()
        if scheduler is not None:  # with the update spelled out, stepping the schedule is ours too
            scheduler.step()

    def configure_optimizers(self) -> Optimizer | dict[str, Any]:
        optimizer = self.optimizer_factory(self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": self.scheduler_factory(optimizer)}  # stepped every epoch
