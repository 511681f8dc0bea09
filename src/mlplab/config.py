"""The typed schema of conf/train.yaml: Hydra checks types while composing, `check` checks ranges."""

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

import mlplab.naming  # noqa: F401 - registers the run and job name resolvers wherever configs are resolved
from mlplab.errors import ConfigError
from mlplab.status import write_text_atomic

NORMALIZATIONS = ("unit", "standard")
ACCELERATORS = ("cpu", "gpu", "cuda", "auto")
PRECISIONS = ("32-true", "bf16-mixed", "16-mixed", "bf16-true", "16-true", "64-true", "32", "16", "64", "bf16")
NAMED_LEARNING_RATES = {"large": 1.0, "small": 0.1, "tiny": 0.01}  # lr=chapter keeps the model's own
MAX_SEED = 2**32 - 1  # numpy's seeds, which seed_everything sets too, stop here


def _require(ok: bool, key: str, value: Any, allowed: str) -> None:
    if not ok:
        raise ConfigError(f"{key}={_shown(value)} is not allowed: {allowed}")


def _shown(value: Any) -> str:
    """A value as the user would type it: true, not True; [512,256], not ListConfig."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple, ListConfig)):
        shown = ",".join(_shown(v) for v in value[:4]) + (f",... ({len(value)} in all)" if len(value) > 4 else "")
        return f"[{shown}]"
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def hidden_widths(hidden: Any) -> list[int]:
    """The top-level `hidden` as layer widths: 512 -> [512], "512x3" -> [512, 512, 512], [512, 256] as is."""
    if _is_count(hidden) and hidden > 0:
        return [hidden]
    if isinstance(hidden, (list, ListConfig)) and hidden and all(_is_count(h) and h > 0 for h in hidden):
        return list(hidden)
    match = re.fullmatch(r"(\d+)x(\d+)", str(hidden))
    if match and int(match[1]) > 0 and int(match[2]) > 0:
        return [int(match[1])] * int(match[2])
    raise ConfigError(
        f"hidden={_shown(hidden)} is not allowed: give a width (hidden=512), width x depth (hidden=512x3) "
        "or a list of widths (hidden=[512,256])"
    )


def learning_rate(choice: Any, own: float) -> float:
    """The top-level `lr`: a number as is, a named rate, or `chapter` for the model's (or optimizer's) own."""
    if choice == "chapter":
        return own
    if choice in NAMED_LEARNING_RATES:
        return NAMED_LEARNING_RATES[choice]
    if _is_number(choice) and choice > 0:
        return float(choice)
    names = ", ".join(["chapter", *NAMED_LEARNING_RATES])
    raise ConfigError(f"lr={_shown(choice)} is not allowed: give a number > 0 (lr=0.1) or one of: {names}")


FASHION_MNIST_CLASSES = (
    "t-shirt",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle boot",
)
PROJECT = Path(__file__).resolve().parents[2]  # the checkout: src/mlplab/config.py is two folders down
# The activations a config may name: one file each in conf/activation/, one function each in
# mlplab.models.activations (a test keeps the two the same). Read from the files, so that checking a
# command line imports no torch.
ACTIVATIONS = tuple(sorted(path.stem for path in (PROJECT / "conf" / "activation").glob("*.yaml")))
OmegaConf.register_new_resolver("mlplab_project", lambda: str(PROJECT), replace=True)
OmegaConf.register_new_resolver("mlplab_widths", hidden_widths, replace=True)
OmegaConf.register_new_resolver("mlplab_lr", learning_rate, replace=True)
# A model's input and output sizes follow the data set: pixels per image, and classes.
OmegaConf.register_new_resolver("mlplab_pixels", lambda size: math.prod(size), replace=True)
OmegaConf.register_new_resolver("mlplab_count", lambda items: len(items), replace=True)


@dataclass
class DataConfig:
    _target_: str = MISSING
    # The data set; the defaults are Fashion-MNIST's, which run folders of earlier versions trained on.
    name: str = "Fashion-MNIST"
    classes: list[str] = field(default_factory=lambda: list(FASHION_MNIST_CLASSES))
    image_size: list[int] = field(default_factory=lambda: [28, 28])  # rows, columns
    files: dict[str, str] = field(default_factory=dict)  # empty: the MNIST family's four file names
    published_md5: dict[str, str] = field(default_factory=dict)
    torchvision_dataset: str | None = "FashionMNIST"
    data_dir: str | None = MISSING
    system_dir: str | None = MISSING
    download: bool = MISSING
    batch_size: int = MISSING
    batches_per_step: int = MISSING
    eval_batch_size: int = MISSING
    val_size: int = MISSING
    normalize: str = MISSING
    seed: int = MISSING

    def __post_init__(self) -> None:
        _require(len(self.classes) >= 2, "data.classes", self.classes, "a data set needs two classes or more")
        _require(
            len(self.image_size) == 2 and all(size > 0 for size in self.image_size),
            "data.image_size",
            self.image_size,
            "give the images' rows and columns, e.g. [28,28]",
        )
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
            self.data_dir is None or not Path(self.data_dir).is_file(),
            "data.data_dir",
            self.data_dir,
            "it is a file; give the folder holding the IDX files",
        )
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
    num_inputs: int = 28 * 28  # pixels per image: conf/model/ takes it from data.image_size
    num_classes: int = 10  # conf/model/ takes it from data.classes

    def __post_init__(self) -> None:
        _require(
            len(self.hidden) > 0 and all(h > 0 for h in self.hidden),
            "model.hidden",
            self.hidden,
            "it must list one or more positive layer widths, e.g. [256] or [512,256]",
        )
        _require_fits_in_memory([self.num_inputs, *self.hidden, self.num_classes])
        _require(
            self.activation in ACTIVATIONS,
            "model.activation",
            self.activation,
            f"choose one of: {', '.join(ACTIVATIONS)}",
        )
        lr = self.optimizer.get("lr")
        _require(_is_number(lr) and lr > 0, "model.optimizer.lr", lr, "the learning rate must be a number > 0")
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


def _require_fits_in_memory(widths: list[int]) -> None:
    """Refuse widths whose weights, gradients and optimizer state (4 copies in float32) exceed the memory."""
    hidden = widths[1:-1]
    weights = sum((a + 1) * b for a, b in zip(widths, widths[1:], strict=False))
    needed, available = 4 * 4 * weights, os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    _require(
        needed < available,
        "model.hidden",
        hidden,
        f"{weights:,} weights need about {needed / 2**30:.0f} GiB for training; this machine has "
        f"{available / 2**30:.0f} GiB",
    )


METRICS = ("acc/val", "loss/val", "acc/train", "loss/train", "acc/test", "loss/test")
DIRECTIONS = ("maximize", "minimize")


@dataclass
class ObjectiveConfig:
    metric: str = "acc/val"  # the defaults are what run folders of earlier versions were ranked by
    direction: str = "maximize"

    def __post_init__(self) -> None:
        _require(self.metric in METRICS, "objective.metric", self.metric, f"choose one of: {', '.join(METRICS)}")
        _require(
            self.direction in DIRECTIONS,
            "objective.direction",
            self.direction,
            f"choose one of: {', '.join(DIRECTIONS)}",
        )


def check_search_objective(cfg: DictConfig) -> None:
    """A search must not tune on the test set: its objective is measured on a validation split of its own."""
    metric = cfg.get("objective", {}).get("metric", "acc/val")
    _require(
        not metric.endswith("/test"),
        "objective.metric",
        metric,
        "a search would tune on the test set; choose acc/val or loss/val (or acc/train, loss/train)",
    )
    experiment = OmegaConf.select(cfg, "hydra.runtime.choices.experiment")
    preset = f" (experiment={experiment} sets it: the chapter validates on the test set)" if experiment else ""
    _require(
        not (metric.endswith("/val") and cfg.data.val_size == 0),
        "data.val_size",
        0,
        f"in a search the validation set would be the test set, and objective.metric={metric} would tune on it"
        f"{preset}; keep a validation split, e.g. data.val_size=5000",
    )


@dataclass
class TrainConfig:
    hidden: Any = MISSING  # model.hidden, spelled as a person does: 512, 512x3 or [512,256]
    lr: Any = MISSING  # model.optimizer.lr: a number, or a named rate
    verbose: bool = MISSING
    outputs: str = MISSING
    seed: int = MISSING
    threads: int | None = MISSING
    compile: bool = MISSING
    output_dir: str = MISSING
    data: DataConfig = MISSING
    model: ModelConfig = MISSING
    trainer: dict[str, Any] = field(default_factory=dict)  # keyword arguments of pytorch_lightning.Trainer
    logger: dict[str, Any] = field(default_factory=dict)
    callbacks: dict[str, Any] = field(default_factory=dict)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)

    def __post_init__(self) -> None:
        _require(
            bool(str(self.outputs).strip()), "outputs", self.outputs, "give a folder for the runs, e.g. outputs=runs"
        )
        _require(0 <= self.seed <= MAX_SEED, "seed", self.seed, f"it must be in 0..{MAX_SEED}")
        _check_loggers_installed(self.logger)
        pixels, classes = math.prod(self.data.image_size), len(self.data.classes)
        _require(
            self.model.num_inputs == pixels,
            "model.num_inputs",
            self.model.num_inputs,
            f"{self.data.name}'s images have {pixels} pixels (data.image_size); leave model.num_inputs to follow it",
        )
        _require(
            self.model.num_classes == classes,
            "model.num_classes",
            self.model.num_classes,
            f"{self.data.name} has {classes} classes (data.classes); leave model.num_classes to follow it",
        )
        _require(self.threads is None or self.threads > 0, "threads", self.threads, "it must be null or >= 1")
        epochs = self.trainer.get("max_epochs")
        _require(_is_count(epochs) and epochs > 0, "trainer.max_epochs", epochs, "it must be a positive integer")
        every = self.trainer.get("check_val_every_n_epoch", 1)
        _require(
            every is None or (_is_count(every) and every > 0),
            "trainer.check_val_every_n_epoch",
            every,
            "it must be a positive integer (validate every that many epochs)",
        )
        precision = self.trainer.get("precision", "32-true")
        _require(
            str(precision) in PRECISIONS, "trainer.precision", precision, f"choose one of: {', '.join(PRECISIONS[:6])}"
        )
        devices = self.trainer.get("devices", 1)
        _require(
            devices in ("auto", -1) or (_is_count(devices) and devices > 0),
            "trainer.devices",
            devices,
            "it must be a positive number of processes or GPUs, or auto",
        )
        for key in ("limit_train_batches", "limit_val_batches", "limit_test_batches", "overfit_batches"):
            limit = self.trainer.get(key)
            _require(
                limit is None or (_is_number(limit) and limit > 0) or (key == "overfit_batches" and limit == 0),
                f"trainer.{key}",
                limit,
                "it must be a fraction in (0, 1] or a number of minibatches >= 1",
            )
        every_n = (self.callbacks.get("gradient_stats") or {}).get("every_n_steps", 1)
        _require(
            _is_count(every_n) and every_n > 0,
            "callbacks.gradient_stats.every_n_steps",
            every_n,
            "it must be a positive integer (sample the gradient norms every that many updates)",
        )
        accelerator = self.trainer.get("accelerator")
        _require(
            accelerator in ACCELERATORS, "trainer.accelerator", accelerator, f"choose one of: {', '.join(ACCELERATORS)}"
        )


def _check_loggers_installed(logger: dict[str, Any]) -> None:
    """A logger whose package is an optional extra: say how to install it, before any work."""
    import importlib.util

    for name, entry in logger.items():
        target = str(entry.get("_target_", "")) if isinstance(entry, dict) else ""
        _require(
            not target.endswith("MLFlowLogger") or importlib.util.find_spec("mlflow") is not None,
            "logger",
            name,
            "MLflow is not installed in this environment; pip install -e '.[mlflow]'",
        )


def check_machine(cfg: DictConfig) -> None:
    """What only the machine that trains can tell: whether the GPU asked for is there."""
    accelerator = cfg.trainer.get("accelerator")
    if accelerator in ("gpu", "cuda"):
        import torch  # only here: a command line that asks for no GPU is checked without importing torch

        _require(
            torch.cuda.is_available(),
            "accelerator",
            accelerator,
            "no CUDA GPU is visible on this machine; use accelerator=cpu or accelerator=auto",
        )


def register_configs() -> None:
    """Make the schema available to conf/train.yaml's defaults list as `train_schema`."""
    ConfigStore.instance().store(name="train_schema", node=TrainConfig)


def check(cfg: DictConfig, on_this_machine: bool = True) -> None:
    """Raise ConfigError, naming the value and what is allowed, if any value is out of range.

    `on_this_machine=False` for a job that will run elsewhere (a SLURM node): its machine checks it there.
    """
    if on_this_machine:
        check_machine(cfg)
    try:
        if OmegaConf.get_type(cfg) is not TrainConfig:  # a run folder's config.yaml: plain YAML
            cfg = OmegaConf.merge(OmegaConf.structured(TrainConfig), cfg)
        OmegaConf.to_object(cfg)  # builds the dataclasses above, which runs each __post_init__
    except OmegaConfBaseException as err:
        cause = err.__cause__ or err.__context__
        while cause is not None and not isinstance(cause, ConfigError):  # raised inside a resolver
            cause = cause.__cause__ or cause.__context__
        if cause is not None:
            raise cause from None
        key = f"{err.full_key}" if getattr(err, "full_key", None) else "the config"
        raise ConfigError(f"{key}: {str(err).splitlines()[0]}") from None


def recorded_config(cfg: DictConfig) -> dict[str, Any]:
    """The values that define a run's training, resolved, as a checkpoint keeps them."""
    keep = ("hidden", "lr", "seed", "data", "model")  # the spellings a person edits first
    resolved = OmegaConf.to_container(cfg, resolve=True)
    record = {key: resolved[key] for key in keep if key in resolved}
    record["data"] = {
        k: v for k, v in record.get("data", {}).items() if k not in ("data_dir", "system_dir", "download")
    }
    # How much of the data an epoch reads is part of the run too: a resume may not change it.
    shape = ("precision", "accumulate_grad_batches", "devices", "limit_train_batches", "limit_val_batches")
    record["trainer"] = {k: resolved["trainer"].get(k) for k in shape}
    return record


def write_run_config(cfg: DictConfig, path: Path) -> None:
    """Write the config as it runs, every value resolved: what resume, evaluation and summaries read back.

    Plain YAML (`model.hidden: [512]`, not `${mlplab_widths:${hidden}}`), readable without this project;
    only paths inside the run folder stay `${output_dir}/...`, so that they follow the folder if it moves.
    Written through a temporary file and a rename, so a reader never sees half of it.
    """
    marker = "\0output_dir\0"
    resolved = OmegaConf.to_container(OmegaConf.merge(cfg, {"output_dir": marker}), resolve=True)

    def inside_the_folder(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: inside_the_folder(v) for k, v in value.items()}
        if isinstance(value, list):
            return [inside_the_folder(v) for v in value]
        return value.replace(marker, "${output_dir}") if isinstance(value, str) else value

    resolved = inside_the_folder(resolved) | {"output_dir": str(cfg.output_dir)}
    write_text_atomic(path, OmegaConf.to_yaml(OmegaConf.create(resolved)))
