"""SigtermUnderDDP: on SIGTERM, every DDP rank stops at the same step, with no collective in the signal handler."""

import signal
from types import FrameType

import pytorch_lightning as pl
from pytorch_lightning.utilities.exceptions import SIGTERMException


class SigtermUnderDDP(pl.Callback):
    """Under DDP, replace Lightning's SIGTERM handler by one that only notes the signal.

    Lightning 2.6's handler calls dist.broadcast from inside the signal handler: when the signal lands
    while another rank is already inside a different collective, the ranks wait on each other for
    ever. Here the handler only sets a flag; after each training or test step the ranks agree, in one
    all-reduce, whether any of them received SIGTERM, and if so all raise SIGTERMException at the same
    step. Lightning then calls on_exception (InterruptCheckpoint saves) and train.py exits with 143.
    A single process keeps Lightning's own handler, which has no collective to get wrong.
    """

    def __init__(self) -> None:
        self.received = False

    def _install(self, trainer: pl.Trainer) -> None:
        # Lightning has registered its handler by now (fit and test each do), and puts back what it
        # replaced when the stage ends.
        if trainer.world_size > 1:
            signal.signal(signal.SIGTERM, self._note)  # a signal noted during fit still stops the test

    def _note(self, signum: int, frame: FrameType | None) -> None:
        self.received = True

    def _stop_if_signalled(self, trainer: pl.Trainer) -> None:
        if trainer.world_size > 1 and trainer.strategy.reduce_boolean_decision(self.received, all=False):
            raise SIGTERMException

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._install(trainer)

    def on_test_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._install(trainer)

    def on_train_batch_end(self, trainer: pl.Trainer, *args: object) -> None:
        self._stop_if_signalled(trainer)

    def on_test_batch_end(self, trainer: pl.Trainer, *args: object) -> None:
        self._stop_if_signalled(trainer)
