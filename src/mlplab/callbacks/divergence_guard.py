"""DivergenceGuard: stop at the first training loss that is not finite or has exploded."""

import math

import pytorch_lightning as pl
import torch
from torch import Tensor

from mlplab.errors import DivergenceError


class DivergenceGuard(pl.Callback):
    """Raise DivergenceError as soon as a training step's loss is nan, inf, or above `max_loss`.

    A 10-class cross-entropy starts near ln(10) = 2.3; far above that, training has left the rails
    even while the number stays finite.
    """

    def __init__(self, max_loss: float = 1000.0) -> None:
        self.max_loss = max_loss

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Tensor | dict, batch: object, batch_idx: int
    ) -> None:
        losses = (outputs["loss"] if isinstance(outputs, dict) else outputs).reshape(-1)  # one per update
        worst = losses.max().item()  # one host-device sync per step: free on a CPU, microseconds on a GPU
        if math.isfinite(worst) and worst <= self.max_loss:
            return
        bad = (~torch.isfinite(losses)) | (losses > self.max_loss)
        first = int(bad.nonzero()[0])  # the update where it happened, within this step's minibatches
        update = trainer.global_step - len(losses) + first + 1
        value = losses[first].item()
        lr = trainer.optimizers[0].param_groups[0]["lr"]
        raise DivergenceError(
            f"training diverged: loss is {value:.4g} at epoch {trainer.current_epoch + 1}, "
            f"update {update}; lower the learning rate (model.optimizer.lr={lr})"
        )
