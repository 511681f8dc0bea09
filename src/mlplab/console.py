"""What a run prints besides the chapter's lines: what runs, where its results go, and Lightning kept quiet."""

import logging
import os
import warnings
from pathlib import Path

from omegaconf import DictConfig

from mlplab.logs import QuietLightning
from mlplab.naming import for_people

# Lightning's messages that no user can act on: banners about hardware, hints for other set-ups.
QUIET_WARNINGS = (
    r".*srun.*",  # on any machine with SLURM's tools: "The `srun` command is available on your system"
    r".*does not have many workers.*",  # the in-memory loader needs none
    r".*is smaller than the logging interval.*",
    r".*LeafSpec.*",
    r".*Precision bf16-mixed is not supported by the model summary.*",
    r".*Checkpoint directory .* exists and is not empty.*",  # a resumed run writes into its own folder
    r".*overfit but enabled val dataloader shuffling.*",  # ours never shuffles validation
    r".*Running in `fast_dev_run` mode.*",
)


def quiet_lightning(verbose: bool) -> None:
    """Keep Lightning's banners, hints and deprecation notes off the console unless `verbose`."""
    QuietLightning.verbose = verbose
    if verbose:
        return
    for pattern in QUIET_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)


def describe(cfg: DictConfig, model_name: str) -> str:
    """One line: the model, its widths and parameters, activation, optimizer and lr, epochs, precision, seed."""
    widths = [cfg.model.num_inputs, *cfg.model.hidden, cfg.model.num_classes]
    layers = [(a + 1) * b for a, b in zip(widths, widths[1:], strict=False)]
    optimizer = cfg.model.optimizer._target_.rsplit(".", 1)[-1]
    epochs = cfg.trainer.max_epochs
    lr = for_people(float(cfg.model.optimizer.lr))  # an Optuna trial's 0.05611516415334506 as 0.0561
    schedule = f" ({cfg.model.scheduler._target_.rsplit('.', 1)[-1]})" if cfg.model.get("scheduler") else ""
    return (
        f"{model_name} {'-'.join(map(str, widths))}, {cfg.model.activation}, "
        f"{sum(layers):,} parameters ({' + '.join(f'{n:,}' for n in layers)}); "
        f"{optimizer} lr {lr}{schedule}, {epochs} epoch{'s' * (epochs != 1)} of batch "
        f"{cfg.data.batch_size}, {cfg.trainer.precision} on {cfg.trainer.accelerator}, seed {cfg.seed}"
    )


def shown_path(folder: Path) -> str:
    """`folder` relative to the working directory when it lies below it, else as it is."""
    try:
        return str(folder.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(folder)


def point_latest_at(folder: Path, outputs: Path) -> None:
    """Make <outputs>/latest a link to this run folder, replaced in one step (never missing, never half)."""
    if folder.resolve().parent != (outputs / "runs").resolve():
        return  # a run placed elsewhere by hand (hydra.run.dir=...) is not the project's latest
    link, temporary = outputs / "latest", outputs / f".latest.{os.getpid()}"
    try:
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(Path("runs") / folder.name)
        os.replace(temporary, link)
    except OSError as err:
        logging.getLogger(__name__).warning(f"could not point {link} at {folder}: {err}")
