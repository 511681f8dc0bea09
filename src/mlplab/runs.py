"""Read finished runs back from their folders: the composed config and the TensorBoard scalars."""

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import mlplab.config  # noqa: F401 - registers the resolvers a run's config.yaml uses

logging.getLogger("tensorboard").setLevel(logging.WARNING)  # its reader logs every file it opens at INFO


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


def load_run(folder: Path) -> Run:
    """Read a run folder written by src/train.py (TensorBoard's own reader for the events)."""
    events = EventAccumulator(str(folder / "tensorboard"), size_guidance={"scalars": 0})
    if (folder / "tensorboard").is_dir():
        events.Reload()
    tags = events.Tags().get("scalars", [])
    scalars = {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in tags}
    return Run(folder, OmegaConf.load(folder / "config.yaml"), scalars)


def find_runs(folder: Path) -> list[Run]:
    """Every run folder at or below `folder`, in name order (a sweep's jobs in job order)."""

    def natural(path: Path) -> list[int | str]:  # job 10 after job 9, not after job 1
        return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(path))]

    configs = sorted(folder.glob("**/config.yaml"), key=natural)
    runs = [c.parent for c in configs if c.parent.name != ".hydra" and not reached_through_link(c.parent, folder)]
    return [load_run(run) for run in runs]


def reached_through_link(run: Path, folder: Path) -> bool:
    """Whether `run` lies below `folder` only through a link (outputs/latest): each run counts where it lives."""
    return run.resolve() != folder.resolve() / run.relative_to(folder)
