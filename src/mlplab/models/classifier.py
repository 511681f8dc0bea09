"""What the scratch and the concise MLP share: the loss, torchmetrics accuracy, and per-epoch logging."""

from collections.abc import Callable, Iterable

import pytorch_lightning as pl
import torch.nn.functional as F
from torch import Tensor, nn
from torch.optim import Optimizer
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy

NUM_INPUTS, NUM_CLASSES = 28 * 28, 10


class MLPClassifier(pl.LightningModule):
    """A Fashion-MNIST classifier whose subclasses define only the network and how it steps."""

    def __init__(self, optimizer: Callable[[Iterable[nn.Parameter]], Optimizer], num_classes: int) -> None:
        super().__init__()
        self.optimizer_factory = optimizer  # a partial from the config, given the parameters later
        # One loss and one accuracy metric per stage; validate_args=False skips per-step input checks.
        self.metrics = nn.ModuleDict()
        for stage in ("train", "val", "test"):
            self.metrics[f"{stage}_loss"] = MeanMetric()
            self.metrics[f"{stage}_acc"] = MulticlassAccuracy(num_classes, average="micro", validate_args=False)

    def num_parameters(self) -> int:
        """How many numbers the optimiser trains."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def evaluate(self, batch: tuple[Tensor, Tensor], stage: str) -> Tensor:
        """Cross-entropy of one batch; updates and logs the stage's epoch-level loss and accuracy."""
        images, labels = batch
        logits = self(images)
        loss = F.cross_entropy(logits, labels)
        loss_metric, acc_metric = self.metrics[f"{stage}_loss"], self.metrics[f"{stage}_acc"]
        loss_metric.update(loss.detach(), weight=len(labels))
        acc_metric.update(logits.detach().argmax(dim=1), labels)
        # Metric objects logged on_epoch only: Lightning computes, syncs and resets them once per epoch.
        self.log(f"{stage}/loss", loss_metric, on_step=False, on_epoch=True)
        self.log(f"{stage}/acc", acc_metric, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self.evaluate(batch, "val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self.evaluate(batch, "test")

    def configure_optimizers(self) -> Optimizer:
        return self.optimizer_factory(self.parameters())
