"""Lightning callbacks of our own; checkpoints and the rest come from Lightning itself."""

from mlplab.callbacks.activation_figure import ActivationFigure
from mlplab.callbacks.ddp_sigterm import SigtermUnderDDP
from mlplab.callbacks.divergence_guard import DivergenceGuard
from mlplab.callbacks.epoch_timer import EpochTimer
from mlplab.callbacks.gradient_stats import GradientStats
from mlplab.callbacks.interrupt_checkpoint import InterruptCheckpoint
from mlplab.callbacks.optuna_pruning import OptunaPruning
from mlplab.callbacks.progress import UpdateProgress
from mlplab.callbacks.run_record import RunRecord
from mlplab.callbacks.slurm_signal import SlurmSignal

__all__ = [
    "ActivationFigure",
    "DivergenceGuard",
    "EpochTimer",
    "GradientStats",
    "InterruptCheckpoint",
    "OptunaPruning",
    "RunRecord",
    "SigtermUnderDDP",
    "SlurmSignal",
    "UpdateProgress",
]
