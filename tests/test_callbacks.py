"""Callbacks measured on their own, with toy modules where the whole run is not needed."""

import time

import pytorch_lightning as pl
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from mlplab.callbacks import EpochTimer


class SlowValidation(pl.LightningModule):
    """Training takes microseconds; validating takes half a second."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(2, 1)

    def training_step(self, batch: Tensor, batch_idx: int) -> Tensor:
        return self.layer(batch).sum()

    def validation_step(self, batch: Tensor, batch_idx: int) -> None:
        time.sleep(0.5)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(torch.ones(4, 2), batch_size=1)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(torch.ones(1, 2), batch_size=1)


def test_epoch_timer_counts_the_training_steps_but_not_the_validation_inside_the_epoch() -> None:
    trainer = pl.Trainer(
        max_epochs=2,
        callbacks=[EpochTimer()],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(SlowValidation())
    seconds = float(trainer.callback_metrics["time/train_epoch_s"])
    assert 0 < seconds < 0.25
