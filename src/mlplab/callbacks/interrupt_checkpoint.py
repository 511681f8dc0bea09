"""InterruptCheckpoint: on Ctrl-C or SIGTERM, save the weights as they are before the process exits."""

from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.utilities.exceptions import SIGTERMException


class InterruptCheckpoint(pl.Callback):
    """Save `interrupted.ckpt` when training is interrupted.

    last.ckpt keeps the last completed epoch, which is what a resume starts from: an epoch
    boundary, so the resumed run sees exactly the data order an uninterrupted one would.
    """

    def __init__(self, dirpath: str) -> None:
        self.path = Path(dirpath) / "interrupted.ckpt"

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        if isinstance(exception, (KeyboardInterrupt, SIGTERMException)):
            trainer.save_checkpoint(self.path, weights_only=False)  # full state, written atomically
