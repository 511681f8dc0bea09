"""OptunaPruning: a search's trial reports its validation accuracy every epoch and stops when the pruner says so."""

import logging
from pathlib import Path

import pytorch_lightning as pl
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate

from mlplab.errors import TrialPruned
from mlplab.stop_signals import signals_held

log = logging.getLogger(__name__)


class OptunaPruning(pl.Callback):
    """Report `monitor` to the trial this run is, after each validation; stop when the pruner says so.

    The trial comes from the Hydra job: `hydra.sweeper.trial` (its number), `storage`, `study_name` and
    `pruner`, which the search's sweeper sets. A run that is no trial (e.g. a resumed trial, which
    trains on outside its search) reports nothing. Under DDP rank 0 asks the pruner and every rank hears
    its verdict: a rank that stopped alone would leave the others waiting in the next all-reduce.
    """

    def __init__(self, monitor: str = "acc/val") -> None:
        self.monitor = monitor
        self.trial = None
        self.in_a_trial = False  # on every rank; only rank 0 holds the trial
        self.pruned = ""  # why the pruner stopped this trial, once it has

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != "fit" or not HydraConfig.initialized():
            return
        hydra = HydraConfig.get()
        sweeper = hydra.sweeper
        self.in_a_trial = sweeper.get("trial") is not None
        if not self.in_a_trial or not trainer.is_global_zero:
            return
        from mlplab.sweeps.study_storage import load_trial, storage_location  # imports optuna: trials only

        location = storage_location(sweeper.storage, Path(hydra.sweep.dir))
        self.trial = load_trial(location, sweeper.study_name, sweeper.trial, instantiate(sweeper.pruner))

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        value = trainer.callback_metrics.get(self.monitor)
        if self.trial is None or trainer.sanity_checking or value is None:
            return
        epoch = trainer.current_epoch + 1
        with signals_held():  # a Ctrl-C here would leave the study's database locked
            self.trial.report(float(value), step=epoch)
            prune = self.trial.should_prune()
        if prune:
            self.pruned = f"pruned after epoch {epoch}: {self.monitor} {float(value):.3f}"

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Stopping here, not at the validation, lets the pruned epoch finish: its line, its logged
        # metrics and last.ckpt. A verdict after the last epoch changes nothing: the trial completes.
        if self.in_a_trial and trainer.world_size > 1:  # every rank reaches this point: one broadcast, no hang
            self.pruned = trainer.strategy.broadcast(self.pruned, src=0)
        if self.pruned:
            if trainer.is_global_zero:
                log.info(f"trial {self.trial.number} {self.pruned}")
            raise TrialPruned(self.pruned)
