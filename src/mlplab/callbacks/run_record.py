"""RunRecord: every checkpoint carries the config it was trained with and the metrics it had reached."""

from typing import Any

import pytorch_lightning as pl


class RunRecord(pl.Callback):
    """Store the run's resolved config (plain data) and its latest metrics in each checkpoint.

    A resume compares an edited config.yaml with `mlplab_config`, and a run stopped after its last
    epoch still reports that epoch's metrics from `mlplab_metrics` (the event files may lag behind).
    """

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict) -> None:
        checkpoint["mlplab_config"] = self.config
        checkpoint["mlplab_metrics"] = {k: float(v) for k, v in trainer.callback_metrics.items() if k != "step"}
