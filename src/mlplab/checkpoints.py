"""Open what a run left behind, checking it first: its folder, its config, its checkpoints."""

import importlib
import pickle
import re
import warnings
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from mlplab.config import TrainConfig  # also registers the resolvers a run's config.yaml may use
from mlplab.errors import CheckpointError, ConfigError
from mlplab.models.classifier import MLPClassifier


def run_folder_of(path: Path) -> Path:
    """The run folder for a run folder or for a checkpoint inside one (<run>/checkpoints/*.ckpt)."""
    path = path.resolve() if path.is_symlink() else path  # outputs/latest: the run it points at
    folder = path.parent.parent if path.suffix == ".ckpt" else path
    if not path.exists():
        raise CheckpointError(f"{path} does not exist; give a run folder (outputs/runs/...) or a .ckpt file in one")
    if not (folder / "config.yaml").is_file():
        raise CheckpointError(f"{folder}/config.yaml is missing; is {folder} a run folder written by src/train.py?")
    return folder


def checkpoint_of(path: Path) -> Path:
    """The checkpoint a command means: a .ckpt file as given, or a run folder's checkpoints/last.ckpt."""
    return path if path.suffix == ".ckpt" else run_folder_of(path) / "checkpoints" / "last.ckpt"


# What a run folder's config.yaml may build: a config file is data, and whoever wrote it must not be able
# to make eval, predict or resume call any other function. A target is allowed when it names, exactly, a
# class defined in (or exported by) one of these modules that is the kind of thing that module gives a run.
ALLOWED_KINDS = {
    "mlplab.models": "mlplab.models.classifier.MLPClassifier",
    "mlplab.models.sgd": "torch.optim.Optimizer",
    "mlplab.data": "pytorch_lightning.LightningDataModule",
    "mlplab.callbacks": "pytorch_lightning.Callback",
    "mlplab.checkpoint_io": "lightning_fabric.plugins.CheckpointIO",
    "mlplab.profiler": "pytorch_lightning.profilers.Profiler",
    "torch.optim": "torch.optim.Optimizer",
    "torch.optim.lr_scheduler": "torch.optim.lr_scheduler.LRScheduler",
    "pytorch_lightning": "pytorch_lightning.Trainer",
    "pytorch_lightning.callbacks": "pytorch_lightning.Callback",
    "pytorch_lightning.loggers": "pytorch_lightning.loggers.Logger",
    "pytorch_lightning.profilers": "pytorch_lightning.profilers.Profiler",
}


def allowed_target(target: object) -> bool:
    """Whether a `_target_` names, exactly, a class a run builds (never a function, never a module's import)."""
    if not isinstance(target, str) or "." not in target:
        return False
    module_name, name = target.rsplit(".", 1)
    if module_name not in ALLOWED_KINDS or name.startswith("_"):
        return False
    module = importlib.import_module(module_name)
    found = getattr(module, name, None)
    return isinstance(found, type) and issubclass(found, _class_named(ALLOWED_KINDS[module_name]))


def _class_named(dotted: str) -> type:
    module_name, name = dotted.rsplit(".", 1)
    return getattr(importlib.import_module(module_name), name)


def load_run_config(folder: Path) -> DictConfig:
    """The config a run was trained with, as src/train.py saved it; refused if it names a foreign `_target_`."""
    try:
        cfg = OmegaConf.load(folder / "config.yaml")
    except Exception as err:  # noqa: BLE001 - any parse failure means the same thing to the user
        raise CheckpointError(f"{folder}/config.yaml cannot be read: {str(err).splitlines()[0]}") from err
    if not isinstance(cfg, DictConfig) or "model" not in cfg or "data" not in cfg:
        raise CheckpointError(f"{folder}/config.yaml holds no run config (no model or data); is it mlplab's?")
    for key, target in _targets(OmegaConf.to_container(cfg, resolve=False)):
        if not allowed_target(target):
            raise CheckpointError(
                f"{folder}/config.yaml: {key}={target} is not allowed: a run's config may build only mlplab's "
                "models, data, callbacks and plugins, torch's optimizers and schedulers, and Lightning's trainer, "
                "callbacks, loggers and profilers"
            )
    # Settings added since the run was made take the values it ran with (Fashion-MNIST, 784 inputs, acc/val).
    try:
        return OmegaConf.merge(OmegaConf.structured(TrainConfig), cfg)
    except OmegaConfBaseException as err:
        raise ConfigError(f"{folder}/config.yaml: {str(err).splitlines()[0]}") from None


def _targets(tree: object, prefix: str = "") -> list[tuple[str, object]]:
    """Every `_target_` in a config tree, with its dotted key."""
    found = []
    if isinstance(tree, dict):
        for key, value in tree.items():
            if key == "_target_":
                found.append((f"{prefix}_target_", value))
            found += _targets(value, f"{prefix}{key}.")
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            found += _targets(value, f"{prefix}{i}.")
    return found


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a Lightning checkpoint with weights_only=True: tensors and plain data, never arbitrary code."""
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        with warnings.catch_warnings():  # torch warns before refusing a foreign pickle: the error says it all
            warnings.simplefilter("ignore")
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        # torch's words for a pickled class or function: "Unsupported global: GLOBAL x.y" or
        # "Trying to load unsupported GLOBAL posix.system whose module posix is blocked".
        code = re.search(r"unsupported global:? (?:GLOBAL )?([\w.]+)", str(err), re.IGNORECASE)
        if code is None:
            raise CheckpointError(f"checkpoint {path} is truncated, damaged or not a checkpoint") from err
        raise CheckpointError(
            f"checkpoint {path} holds objects other than tensors and plain data ({code.group(1)}): loading it "
            "would run code, so it is refused; a checkpoint written by src/train.py holds none"
        ) from err
    except Exception as err:  # noqa: BLE001 - torch raises many kinds for a damaged file; all mean the same
        reason = (str(err).strip().split(". ")[0] or type(err).__name__)[:100]
        raise CheckpointError(f"checkpoint {path} is truncated, damaged or not a checkpoint ({reason})") from err
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise CheckpointError(
            f"checkpoint {path} holds no model weights (no 'state_dict'); is it a Lightning checkpoint?"
        )
    return checkpoint


def restore_model(cfg: DictConfig, checkpoint: dict[str, Any]) -> MLPClassifier:
    """Build the run's model from its config and give it the checkpoint's weights, ready to evaluate."""
    model = instantiate(cfg.model)
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as err:
        raise CheckpointError(
            f"the checkpoint's weights do not fit the run's model ({str(err).splitlines()[0]})"
        ) from err
    return model.eval()


def metrics_reached(checkpoint: dict[str, Any]) -> dict[str, float]:
    """The training and validation metrics a checkpoint's epoch ended with (RunRecord stores them).

    A run resumed with no epochs left to train reports these, as it trains nothing to log them again.
    """
    recorded = checkpoint.get("mlplab_metrics", {})
    return {k: v for k, v in recorded.items() if k.endswith(("/train", "/val"))}
