"""The hyperparameters a person compares in TensorBoard's HPARAMS tab: each run's values, and one summary per folder.

A run records its values (`session_start_info`); a folder of runs gets one experiment summary that
lists every value any of its runs took, flags what `differs`, and puts test and validation accuracy
first among the metrics. The metrics are the learning curves themselves (`acc/test`, `acc/val`, ...):
HPARAMS shows the last value of each, and "Show Metrics" on a row plots the curves.
"""

import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

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


def _summary(tag: str, **plugin_data: Any) -> Any:
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.plugins.hparams import metadata, plugin_data_pb2

    data = plugin_data_pb2.HParamsPluginData(version=metadata.PLUGIN_DATA_VERSION, **plugin_data)
    return Summary(value=[Summary.Value(tag=tag, metadata=metadata.create_summary_metadata(data))])


def session_start(hparams: Mapping[str, str | float]) -> Any:
    """The record that makes a run a row of HPARAMS: its compared values."""
    from tensorboard.plugins.hparams import metadata, plugin_data_pb2

    start = plugin_data_pb2.SessionStartInfo(start_time_secs=time.time())
    for key, value in hparams.items():
        if isinstance(value, str):
            start.hparams[hparam_name(key)].string_value = value
        else:
            start.hparams[hparam_name(key)].number_value = value
    return _summary(metadata.SESSION_START_INFO_TAG, session_start_info=start)


def session_end() -> Any:
    """The record that says a run completed."""
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

    end = plugin_data_pb2.SessionEndInfo(status=api_pb2.STATUS_SUCCESS, end_time_secs=time.time())
    return _summary(metadata.SESSION_END_INFO_TAG, session_end_info=end)


def log_run_hparams(logger: Any, cfg: DictConfig) -> None:
    """Record this run's compared values in its TensorBoard events (a TensorBoardLogger; other loggers are skipped)."""
    from pytorch_lightning.loggers import TensorBoardLogger

    if not isinstance(logger, TensorBoardLogger):
        return
    hparams = compared_hparams(cfg, run_choices(Path(cfg.output_dir)))
    # Lightning closes the writer after fit; _get_file_writer reopens it, as Lightning's log_hyperparams does.
    writer = logger.experiment._get_file_writer()  # noqa: SLF001
    writer.add_summary(session_start(hparams))
    writer.add_summary(session_end())


def experiment_summary(runs: list[Mapping[str, str | float]]) -> Any:
    """One experiment for all `runs`: every hyperparameter with its domain and `differs` flag, then the metrics."""
    from tensorboard.plugins.hparams import api_pb2, metadata

    labels = {"hidden": "hidden"} | {g: g for g in CHOICES}
    labels |= {name: label for name, (_, label) in (CATEGORIES | NUMBERS).items()}
    infos = []
    for name, label in labels.items():
        values = [run[name] for run in runs if name in run]
        if not values:
            continue
        info = api_pb2.HParamInfo(name=hparam_name(name), display_name=label, differs=len(set(values)) > 1)
        if all(isinstance(v, str) for v in values):
            info.type = api_pb2.DATA_TYPE_STRING
            info.domain_discrete.extend(sorted(set(values)))
        else:
            info.type = api_pb2.DATA_TYPE_FLOAT64
            info.domain_interval.min_value, info.domain_interval.max_value = min(values), max(values)
        infos.append(info)
    infos.sort(key=lambda info: (not info.differs, info.name))  # as TensorBoard will
    metrics = [
        api_pb2.MetricInfo(name=api_pb2.MetricName(tag=tag), display_name=label) for tag, label in METRICS.items()
    ]
    experiment = api_pb2.Experiment(hparam_infos=infos, metric_infos=metrics, time_created_secs=time.time())
    return _summary(metadata.EXPERIMENT_TAG, experiment=experiment)


# TensorBoard reads a run's event files in name order and keeps the first record of a tag: these names
# come first, so what this project writes wins over an older record of the same tag.
EXPERIMENT_FILE = "events.out.tfevents.0000000000.mlplab-experiment"
SESSION_FILE = "events.out.tfevents.0000000000.mlplab-session"


def write_experiment(folder: Path, run_folders: list[Path]) -> Path:
    """Write the experiment summary of `run_folders` into `folder`, replacing the one written before."""
    return write_events(folder / EXPERIMENT_FILE, [experiment_summary([run_hparams(run) for run in run_folders])])


def write_events(path: Path, summaries: list[Any]) -> Path:
    """Write `summaries` into the event file `path` (TensorBoard's own writer names its files by time)."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    with tempfile.TemporaryDirectory() as scratch:
        writer = EventFileWriter(scratch)
        for summary in summaries:
            writer.add_event(Event(wall_time=time.time(), summary=summary))
        writer.close()
        (written,) = Path(scratch).iterdir()
        shutil.move(written, path)
    return path
