"""The run's loggers, as many as conf/logger/ names (logger=[tensorboard,csv]); TensorBoard's found among them."""

from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig
from pytorch_lightning.loggers import Logger, TensorBoardLogger


def build_loggers(logger: DictConfig) -> list[Logger]:
    """One logger per entry of the config's `logger` (a run folder of an earlier version holds a single one)."""
    if "_target_" in logger:
        return [instantiate(logger)]
    return [instantiate(entry) for entry in logger.values() if entry is not None]


def tensorboard_of(loggers: list[Logger]) -> TensorBoardLogger | None:
    """The TensorBoard logger among `loggers`, for what only TensorBoard shows (HPARAMS, figures); None if absent."""
    return next((logger for logger in loggers if isinstance(logger, TensorBoardLogger)), None)


def tensorboard_writer(trainer: Any) -> Any | None:
    """The SummaryWriter of the trainer's TensorBoard logger, or None when the run logs no TensorBoard events."""
    logger = tensorboard_of(trainer.loggers)
    return logger.experiment if logger is not None else None
