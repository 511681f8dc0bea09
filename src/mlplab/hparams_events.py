"""TensorBoard's HPARAMS records: each run's values, and one experiment summary for a folder of runs.

A run records its values (`session_start_info`); a folder of runs gets one experiment that lists
the values that differ between its runs, with their domains, and puts test and validation accuracy
first among the metrics.
"""

import logging
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from mlplab.hparams import (
    CATEGORIES,
    CHOICES,
    METRICS,
    NUMBERS,
    compared_hparams,
    hparam_name,
    run_choices,
    run_hparams,
)

log = logging.getLogger(__name__)


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
    # Only what differs: constants would fill the table's first columns and push the accuracies off the
    # screen; they stay in each run's config.yaml. Runs that differ in nothing show their first two values.
    infos = [info for info in infos if info.differs] or infos[:2]
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
    compared = []
    for run in run_folders:
        try:
            compared.append(run_hparams(run))
        except Exception as err:  # noqa: BLE001 - a config edited by hand: one run left out, the rest compared
            log.warning(f"HPARAMS leaves out {run}: its config.yaml cannot be compared ({type(err).__name__}: {err})")
    return write_events(folder / EXPERIMENT_FILE, [experiment_summary(compared)] if compared else [])


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
