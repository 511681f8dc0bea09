"""Resuming a run in its own folder from its last completed epoch, or training a finished run for longer.

The run's own config.yaml is used, checked as train.py checks it, its log is appended to, and
TensorBoard shows one run.
"""

import difflib
import logging
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from mlplab.checkpoints import load_checkpoint, load_run_config, metrics_reached, restore_model, run_folder_of
from mlplab.config import check, recorded_config
from mlplab.data.provenance import check_same_data
from mlplab.distributed import global_rank
from mlplab.errors import CheckpointError, ConfigError, StorageError, describe_os_error
from mlplab.logs import configure_logging
from mlplab.run_folder import in_use, is_locked
from mlplab.status import read_status, recorded_status
from mlplab.training import train

log = logging.getLogger("resume")
EXTENDABLE = ("trainer.max_epochs",)  # what a resume may change: how long the run trains
FOLLOW_THE_BUDGET = ("model.scheduler.T_max",)  # values that follow trainer.max_epochs: a cosine stretches


def resume(folder: Path, overrides: list[str]) -> dict[str, float]:
    """Train the run in `folder` on from checkpoints/last.ckpt to its (or the given) number of epochs."""
    folder = run_folder_of(folder).resolve()  # outputs/latest names the run it points at
    # A live run or resume: say so before anything else about the folder. DDP's other ranks rerun
    # this script while rank 0 holds the lock, so only rank 0 asks.
    if global_rank() == 0 and is_locked(folder):
        raise ConfigError(in_use(folder))
    cfg = load_run_config(folder)
    try:  # a resume writes into the run's folder: its log, checkpoints, status
        with (folder / "train.log").open("a"):
            pass
    except OSError as err:
        raise StorageError(
            f"cannot write to {folder}: {describe_os_error(err)}; a resume continues the run in its own folder: "
            "copy it somewhere writable and resume the copy"
        ) from None
    for override in overrides:
        key, _, value = override.partition("=")
        if key not in EXTENDABLE or not value:
            close = difflib.get_close_matches(key, EXTENDABLE, n=1)
            hint = f"did you mean {close[0]}={value}? " if close and close[0] != key else ""
            raise ConfigError(f"{override} cannot be changed on resume; {hint}only {', '.join(EXTENDABLE)}=<n> can")
        OmegaConf.update(cfg, key, int(value) if value.isdigit() else value)  # check() refuses a non-number
    cfg.output_dir = str(folder)  # the folder may have moved since: its files follow it
    check(cfg)
    checkpoint_path = folder / "checkpoints" / "last.ckpt"
    if not checkpoint_path.is_file():
        raise CheckpointError(
            f"{folder} has no checkpoints/last.ckpt: it stopped before its first epoch ended, so there is "
            "nothing to resume; start it again with src/train.py"
        )
    checkpoint = load_checkpoint(checkpoint_path)  # a damaged checkpoint stops here
    _refuse_edits(cfg, checkpoint, folder)
    if global_rank() == 0:
        datamodule = instantiate(cfg.data)  # finds the files as training will, and reads nothing else
        check_same_data(datamodule.located_files(), folder)
    restore_model(cfg, checkpoint)  # a model whose shape differs from the weights' stops here
    epochs_done, budget = checkpoint["epoch"] + 1, cfg.trainer.max_epochs
    if read_status(folder).get("status") == "completed" and budget <= epochs_done:
        raise CheckpointError(
            f"{folder} has completed its {epochs_done} epoch{'s' * (epochs_done != 1)}; to train it for longer, "
            f"give a larger budget: python src/resume.py {folder} trainer.max_epochs={epochs_done + 5}"
        )
    if budget < epochs_done:
        raise ConfigError(f"trainer.max_epochs={budget} is not allowed: the run has trained {epochs_done} epochs")
    configure_logging(folder / "train.log")
    if global_rank() == 0:
        log.info(f"resuming {folder} after epoch {epochs_done}, to epoch {budget}")
    with recorded_status(folder, enabled=global_rank() == 0):  # DDP's other ranks rerun this script
        for stale in (folder / "checkpoints").glob(".*.tmp"):  # a save cut short by kill -9; the lock says so
            stale.unlink()
        return train(cfg, resume_from=checkpoint_path, reached=metrics_reached(checkpoint))


def _refuse_edits(cfg: DictConfig, checkpoint: dict, folder: Path) -> None:
    """Refuse a config.yaml edited since training began: a resume continues the same run, or nothing."""
    trained = checkpoint.get("mlplab_config")
    if trained is None:
        return  # a checkpoint from before checkpoints recorded their config
    now = recorded_config(cfg)
    for key, value in _flat(trained).items():
        if key in FOLLOW_THE_BUDGET:
            continue
        edited = _flat(now).get(key)
        if edited != value:
            raise ConfigError(
                f"{folder}/config.yaml sets {key}={edited} but the run trained with {value}; a resume continues "
                "the same run: change it back, or start a new run with src/train.py"
            )


def _flat(tree: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat |= _flat(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat
