"""ConfigRecord: every checkpoint carries the config it was trained with, so a resume can tell what was edited."""

from typing import Any

import pytorch_lightning as pl


class ConfigRecord(pl.Callback):
    """Store the run's resolved config (plain data) in each checkpoint under `mlplab_config`."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict) -> None:
        checkpoint["mlplab_config"] = self.config
