"""EpochSummary: the chapter's line per epoch, `epoch 1, loss 0.xxxx, train acc 0.xxx, test acc 0.xxx`."""

import logging

import pytorch_lightning as pl

log = logging.getLogger(__name__)


class EpochSummary(pl.Callback):
    """Log one line per epoch with the epoch's training loss and accuracies."""

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        metrics = trainer.callback_metrics
        parts = [
            f"epoch {trainer.current_epoch + 1}",
            f"loss {metrics['train/loss']:.4f}",
            f"train acc {metrics['train/acc']:.3f}",
        ]
        if "val/acc" in metrics:
            # Without a validation split the data module validates on the test set, as the chapter does.
            label = "test acc" if getattr(trainer.datamodule, "val_is_test", False) else "val acc"
            parts.append(f"{label} {metrics['val/acc']:.3f}")
        log.info(", ".join(parts))
