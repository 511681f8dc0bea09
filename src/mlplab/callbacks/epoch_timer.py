"""EpochTimer: how long each epoch's training steps took, validation excluded."""

import time

import pytorch_lightning as pl
import torch
from pytorch_lightning.trainer.states import TrainerFn


class EpochTimer(pl.Callback):
    """Log `time/train_epoch_s` once per epoch (the benchmark reads it back from TensorBoard)."""

    def __init__(self) -> None:
        self.started = 0.0
        self.seconds: float | None = None

    def _now(self, trainer: pl.Trainer) -> float:
        if trainer.strategy.root_device.type == "cuda":
            torch.cuda.synchronize()  # GPU work is asynchronous: wait for it, or the time means nothing
        return time.perf_counter()

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.started, self.seconds = self._now(trainer), None

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Lightning validates inside the epoch, before on_train_epoch_end: that ends its training part.
        # (trainer.training is already False here; the trainer's function is still "fit".)
        if trainer.state.fn == TrainerFn.FITTING and self.seconds is None:
            self.seconds = self._now(trainer) - self.started

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        seconds = self.seconds if self.seconds is not None else self._now(trainer) - self.started
        pl_module.log("time/train_epoch_s", seconds, sync_dist=True)
