"""The hyperparameters a person compares in TensorBoard's HPARAMS tab, read from a run's config and Hydra's choices.

The metrics beside them are the learning curves themselves (`acc/test`, `acc/val`, ...): HPARAMS
shows the last value of each, and "Show Metrics" on a row plots the curves. `hparams_events.py`
writes both into TensorBoard's records.
"""

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

import mlplab.config  # noqa: F401 - registers the resolvers a run's config.yaml uses

# Config-group choices, as Hydra records them in <run>/.hydra/hydra.yaml (null: the group was left out).
CHOICES = {"experiment": "none", "model": None, "optimizer": "model's own", "scheduler": "constant"}
# Values read from the run's config, as `name: (dotted key, what the column says)`.
CATEGORIES = {
    "activation": ("model.activation", "activation"),
    "precision": ("trainer.precision", "precision"),
    "normalize": ("data.normalize", "inputs"),
}
NUMBERS = {
    "lr": ("model.optimizer.lr", "lr"),
    "batch_size": ("data.batch_size", "batch"),
    "epochs": ("trainer.max_epochs", "epochs"),
    "dropout": ("model.dropout", "dropout"),
    "weight_decay": ("model.optimizer.weight_decay", "weight decay"),
    "momentum": ("model.optimizer.momentum", "momentum"),
    "label_smoothing": ("model.label_smoothing", "label smoothing"),
    "init_std": ("model.init_std", "init std"),
    "val_size": ("data.val_size", "val images"),
    "seed": ("seed", "seed"),
}
# TensorBoard sorts hyperparameters by name, what differs first, and shows the first five: names carry
# this rank (`01 model`) so that, of what differs, what matters most comes first. The labels shown
# are the display names (`model`).
RANK = ("model", "activation", "hidden", "optimizer", "lr", "scheduler", "experiment", "batch_size", "epochs",
        "dropout", "weight_decay", "momentum", "label_smoothing", "init_std", "precision", "normalize", "val_size",
        "seed")  # fmt: skip
# The learning curves' tags, in the order HPARAMS lists them: accuracy first, test before validation.
METRICS = {
    "acc/test": "test acc",
    "acc/val": "val acc",
    "acc/train": "train acc",
    "loss/test": "test loss",
    "loss/val": "val loss",
    "loss/train": "train loss",
}


def hparam_name(key: str) -> str:
    """The name TensorBoard records for a compared value: its rank, then its key (`01 model`)."""
    return f"{RANK.index(key) + 1:02d} {key}"


def hidden_name(widths: Iterable[int]) -> str:
    """Hidden widths as the `hidden` group names them: [512, 512] -> `512x2`, [512, 128] -> `512-128`."""
    widths = [int(w) for w in widths]
    return f"{widths[0]}x{len(widths)}" if len(set(widths)) == 1 else "-".join(map(str, widths))


def run_choices(run_folder: Path) -> dict[str, Any]:
    """The config-group choices Hydra recorded for a run ({} for a run composed without Hydra's run folder)."""
    hydra = HydraConfig.get() if HydraConfig.initialized() else None
    if hydra is not None and OmegaConf.select(hydra, "runtime.output_dir", throw_on_missing=False) == str(run_folder):
        # The job running now: what its hydra.yaml says, without parsing the file.
        return dict(OmegaConf.to_container(hydra.runtime.choices))
    record = run_folder / ".hydra" / "hydra.yaml"
    if not record.is_file():
        return {}
    return dict(OmegaConf.to_container(OmegaConf.load(record).hydra.runtime.choices))


def compared_hparams(cfg: DictConfig, choices: Mapping[str, Any]) -> dict[str, str | float]:
    """The values of one run that HPARAMS compares: its group choices, hidden widths and the numbers that matter."""
    values: dict[str, str | float] = {}
    for group, null_name in CHOICES.items():
        if group in choices:
            values[group] = str(choices[group]) if choices[group] is not None else str(null_name)
    values["hidden"] = hidden_name(cfg.model.hidden)
    for name, (key, _) in CATEGORIES.items():
        value = OmegaConf.select(cfg, key)
        if value is not None:
            values[name] = str(value)
    for name, (key, _) in NUMBERS.items():
        value = OmegaConf.select(cfg, key)
        if value is not None:  # absent where the optimiser has no such knob, or init_std is He's
            values[name] = float(value)
    return values


def run_hparams(run_folder: Path) -> dict[str, str | float]:
    """The compared values of a finished run, from its config.yaml and Hydra's record of its choices."""
    return compared_hparams(OmegaConf.load(run_folder / "config.yaml"), run_choices(run_folder))


def differing_labels(run_folders: list[Path]) -> list[str]:
    """For each run, the values that differ across `run_folders`, e.g. `concise, tanh` or `lr=0.1`."""
    values = [run_hparams(run) for run in run_folders]
    names = [n for n in values[0] if len({str(v.get(n)) for v in values}) > 1] if values else []
    return [", ".join(_label(n, v.get(n)) for n in names) or "run" for v in values]


def _label(name: str, value: str | float | None) -> str:
    """Categories read as themselves (`tanh`); numbers need their name (`lr=0.1`)."""
    if isinstance(value, str):
        return value
    return f"{name}={value:g}" if value is not None else f"{name}=-"
