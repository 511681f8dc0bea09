"""Read finished runs back from their folders: the composed config and the TensorBoard scalars."""

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import mlplab.config  # noqa: F401 - registers the resolvers a run's config.yaml uses

logging.getLogger("tensorboard").setLevel(logging.WARNING)  # its reader logs every file it opens at INFO
log = logging.getLogger(__name__)


@dataclass
class Run:
    """One run folder: its config and every scalar it logged, as tag -> [(step, value), ...]."""

    folder: Path
    config: DictConfig
    scalars: dict[str, list[tuple[int, float]]]

    def last(self, tag: str) -> float | None:
        """The last value logged under `tag`, or None if it never was."""
        values = self.scalars.get(tag)
        return values[-1][1] if values else None


class RunFolderError(Exception):
    """A run folder that cannot be read back: damaged or half-written files."""


def load_run(folder: Path) -> Run:
    """Read a run folder written by src/train.py (TensorBoard's own reader for the events).

    Raises RunFolderError, saying which file is the problem, for a damaged or half-written folder.
    """
    try:
        config = OmegaConf.load(folder / "config.yaml")
    except Exception as err:  # noqa: BLE001 - YAML and OS errors alike mean this folder cannot be read
        raise RunFolderError(f"config.yaml cannot be read ({str(err).splitlines()[0][:120]})") from err
    if not isinstance(config, DictConfig):
        raise RunFolderError("config.yaml holds no run config")
    try:
        events = EventAccumulator(str(folder / "tensorboard"), size_guidance={"scalars": 0})
        if (folder / "tensorboard").is_dir():
            events.Reload()
        tags = events.Tags().get("scalars", [])
        scalars = {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in tags}
    except Exception as err:  # noqa: BLE001 - a damaged event file, whatever TensorBoard's reader raises
        raise RunFolderError(f"its TensorBoard events cannot be read ({type(err).__name__}: {err})") from err
    return Run(folder, config, scalars)


def find_runs(folder: Path) -> list[Run]:
    """Every run folder at or below `folder`, in name order (a sweep's jobs in job order)."""

    def natural(path: Path) -> list[int | str]:  # job 10 after job 9, not after job 1
        return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(path))]

    configs = sorted(folder.glob("**/config.yaml"), key=natural)
    runs = [c.parent for c in configs if c.parent.name != ".hydra" and not reached_through_link(c.parent, folder)]
    readable = []
    for run in runs:  # one damaged folder must not hide the others
        try:
            readable.append(load_run(run))
        except RunFolderError as err:
            log.warning(f"skipped {run}: {err}")
    return readable


def reached_through_link(run: Path, folder: Path) -> bool:
    """Whether `run` lies below `folder` only through a link (outputs/latest): each run counts where it lives."""
    return run.resolve() != folder.resolve() / run.relative_to(folder)
