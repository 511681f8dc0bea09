"""SlurmSignal: the signal SLURM sends before a job's time limit is acted on after a step, not wherever it lands."""

import pytorch_lightning as pl

from mlplab.slurm_job import act_on_slurm_signal


class SlurmSignal(pl.Callback):
    """After each training and validation step, requeue or stop a submitit job whose signal has arrived.

    mlplab.slurm_job.slurm_signals() notes the signal instead of letting submitit act on it mid-frame;
    this is where it is acted on. A stop raises SIGTERMException, so InterruptCheckpoint saves as on SIGTERM.
    """

    def on_train_batch_end(self, *args: object) -> None:
        act_on_slurm_signal()

    def on_validation_batch_end(self, *args: object) -> None:
        act_on_slurm_signal()
