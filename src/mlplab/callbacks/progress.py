"""Progress: on a terminal, a live bar of updates and epochs with the time left; elsewhere nothing extra."""

import sys

import pytorch_lightning as pl
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from mlplab.data.loader import Batch, StepBatches


class UpdateProgress(pl.Callback):
    """Count SGD updates (not Lightning's grouped steps) towards all epochs' total, with the time left.

    The bar is drawn only when standard output is a terminal, and vanishes when training ends: the
    chapter's line per epoch stays in the scroll-back, and logs, CI and SLURM get plain lines only.
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.progress: Progress | None = None
        self.task = 0

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not (self.enabled and trainer.is_global_zero and sys.stdout.isatty()):
            return
        loader = trainer.datamodule.train_dataloader()
        per_epoch = -(-len(loader.sampler) // loader.batch_size)
        if trainer.limit_train_batches is not None and trainer.num_training_batches < len(loader):
            per_epoch = min(per_epoch, trainer.num_training_batches)
        self.progress = Progress(
            TextColumn("epoch {task.fields[epoch]}/{task.fields[epochs]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("updates"),
            TimeRemainingColumn(),
            transient=True,
        )
        self.task = self.progress.add_task(
            "train",
            total=per_epoch * (trainer.max_epochs - trainer.current_epoch),
            epoch=trainer.current_epoch + 1,
            epochs=trainer.max_epochs,
        )
        self.progress.start()

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.progress is not None:
            self.progress.update(self.task, epoch=trainer.current_epoch + 1)

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: object, batch: Batch | StepBatches, i: int
    ) -> None:
        if self.progress is not None:
            self.progress.advance(self.task, len(batch) if isinstance(batch, StepBatches) else 1)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._stop()

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self._stop()

    def _stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
