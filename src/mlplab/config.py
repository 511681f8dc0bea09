"""The typed schema of conf/train.yaml: Hydra checks types while composing, `check` checks ranges."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

import mlplab.naming  # noqa: F401 - registers the run and job name resolvers wherever configs are resolved
from mlplab.errors import ConfigError
from mlplab.models.activations import ACTIVATIONS

NORMALIZATIONS = ("unit", "standard")
ACCELERATORS = ("cpu", "gpu", "cuda", "auto")


def _require(ok: bool, key: str, value: Any, allowed: str) -> None:
    if not ok:
        raise ConfigError(f"{key}={value} is not allowed: {allowed}")


@dataclass
class DataConfig:
    _target_: str = MISSING
    data_dir: str | None = MISSING
    system_dir: str = MISSING
    download: bool = MISSING
    batch_size: int = MISSING
    batches_per_step: int = MISSING
    eval_batch_size: int = MISSING
    val_size: int = MISSING
    normalize: str = MISSING
    seed: int = MISSING

    def __post_init__(self) -> None:
        _require(
            self.data_dir is None or Path(self.data_dir).is_dir(),
            "data.data_dir",
            self.data_dir,
            "no such folder; give a folder holding the IDX files, or null to use data/ and the system copy",
        )
        _require(self.batch_size > 0, "data.batch_size", self.batch_size, "it must be a positive integer")
        _require(
            self.batches_per_step > 0,
            "data.batches_per_step",
            self.batches_per_step,
            "it must be a positive integer (SGD updates per Lightning training step)",
        )
        _require(
            self.eval_batch_size > 0, "data.eval_batch_size", self.eval_batch_size, "it must be a positive integer"
        )
        _require(self.val_size >= 0, "data.val_size", self.val_size, "it must be 0 (test every epoch) or more")
        _require(
            self.normalize in NORMALIZATIONS,
            "data.normalize",
            self.normalize,
            f"choose one of: {', '.join(NORMALIZATIONS)}",
        )


@dataclass
class ModelConfig:
    _target_: str = MISSING
    optimizer: dict[str, Any] = MISSING  # a `_partial_` optimiser; its `lr` is the learning rate
    scheduler: dict[str, Any] | None = MISSING  # a `_partial_` LR scheduler, stepped once per epoch
    hidden: list[int] = MISSING
    activation: str = MISSING
    init_std: float | None = MISSING  # null: He initialisation, std sqrt(2 / fan_in) per layer
    dropout: float = MISSING
    label_smoothing: float = MISSING

    def __post_init__(self) -> None:
        _require(
            len(self.hidden) > 0 and all(h > 0 for h in self.hidden),
            "model.hidden",
            self.hidden,
            "it must list one or more positive layer widths, e.g. [256] or [512,256]",
        )
        _require(
            self.activation in ACTIVATIONS,
            "model.activation",
            self.activation,
            f"choose one of: {', '.join(ACTIVATIONS)}",
        )
        lr = self.optimizer.get("lr")
        _require(
            isinstance(lr, (int, float)) and lr > 0, "model.optimizer.lr", lr, "the learning rate must be a number > 0"
        )
        _require(
            self.init_std is None or self.init_std > 0,
            "model.init_std",
            self.init_std,
            "it must be > 0, or null for He initialisation (std sqrt(2 / fan_in) in each layer)",
        )
        _require(0 <= self.dropout < 1, "model.dropout", self.dropout, "it must be in [0, 1)")
        _require(0 <= self.label_smoothing < 1, "model.label_smoothing", self.label_smoothing, "it must be in [0, 1)")
        scratch_sgd = str(self.optimizer.get("_target_", "")).endswith("ScratchSGD")
        _require(
            not self._target_.endswith("ScratchMLP") or scratch_sgd,
            "model.optimizer._target_",
            self.optimizer.get("_target_"),
            "model=scratch steps with its hand-written ScratchSGD; the optimizer group is for model=concise",
        )


@dataclass
class TrainConfig:
    seed: int = MISSING
    threads: int | None = MISSING
    compile: bool = MISSING
    output_dir: str = MISSING
    data: DataConfig = MISSING
    model: ModelConfig = MISSING
    trainer: dict[str, Any] = field(default_factory=dict)  # keyword arguments of pytorch_lightning.Trainer
    logger: dict[str, Any] = field(default_factory=dict)
    callbacks: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _require(self.threads is None or self.threads > 0, "threads", self.threads, "it must be null or >= 1")
        epochs = self.trainer.get("max_epochs")
        _require(isinstance(epochs, int) and epochs > 0, "trainer.max_epochs", epochs, "it must be a positive integer")
        accelerator = self.trainer.get("accelerator")
        _require(
            accelerator in ACCELERATORS, "trainer.accelerator", accelerator, f"choose one of: {', '.join(ACCELERATORS)}"
        )
        _require(
            accelerator not in ("gpu", "cuda") or torch.cuda.is_available(),
            "accelerator",
            accelerator,
            "no CUDA GPU is visible on this machine; use accelerator=cpu or accelerator=auto",
        )


def register_configs() -> None:
    """Make the schema available to conf/train.yaml's defaults list as `train_schema`."""
    ConfigStore.instance().store(name="train_schema", node=TrainConfig)


def check(cfg: DictConfig) -> None:
    """Raise ConfigError, naming the value and what is allowed, if any value is out of range."""
    OmegaConf.to_object(cfg)  # builds the dataclasses above, which runs each __post_init__
