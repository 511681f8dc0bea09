"""SweepSummary: Hydra calls it when a multirun ends, failed jobs or not."""

import atexit
import logging
import os
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger(__name__)
# How a job may end with the sweep still having done its work; any other end makes the multirun exit 1.
FINISHED = ("completed", "pruned", "diverged")


class SweepSummary(Callback):
    """Write the sweep's summary table, plot and TensorBoard experiment, and print the table."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        # Jobs label their lines [3/6 ...]; launchers start them with this environment (joblib, submitit).
        jobs = planned_jobs(config)
        if jobs:
            os.environ["MLPLAB_SWEEP_JOBS"] = str(jobs)
        # Hydra skips on_multirun_end when a launcher or sweeper raises: the summary is written at exit then.
        # What it needs is imported now: during the interpreter's shutdown, modules that register exit
        # handlers of their own (thread pools, via TensorBoard's reader) can no longer be imported.
        import mlplab.figures.curves  # noqa: F401
        import mlplab.sweeps.summary  # noqa: F401

        self.summarised = False
        atexit.register(self._summarise_at_exit, config)

    def _summarise_at_exit(self, config: DictConfig) -> None:
        if not self.summarised:
            self.summarise(config)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        unfinished = self.summarise(config)
        if unfinished:
            log.error(f"{unfinished} job{'s' * (unfinished != 1)} did not complete (above, and in summary.md)")
            raise SystemExit(1)

    def summarise(self, config: DictConfig) -> int:
        """Write and print the summary, name each job that did not finish and why; return how many."""
        # Imported here: Hydra builds this callback in every run, and a single run never needs the
        # TensorBoard reader (about 55 ms of imports at its start) or rich's tables.
        from rich.console import Console
        from rich.table import Table

        from mlplab.sweeps.summary import best_trial_line, cell, objective_of, write_summary

        self.summarised = True
        folder = Path(config.hydra.sweep.dir)
        rows = write_summary(folder)
        if not rows:
            return 0
        metric, direction = objective_of([folder / row.job for row in rows])
        ranked_by = "val acc" if (metric, direction) == ("acc/val", "maximize") else f"{metric} ({direction})"
        table = Table(title=f"{folder}: {len(rows)} jobs, ranked by {ranked_by}")
        kind, split = metric.split("/")
        extra = [] if f"{split}_{kind}" in ("val_acc", "test_acc") else [metric]  # the objective, when another
        for column in ("rank", "job", "status", *extra, "val acc", "test acc", "epochs", "wall s"):
            table.add_column(column)
        for rank, row in enumerate(rows, start=1):
            objective = [getattr(row, f"{split}_{kind}")] if extra else []
            metrics = [cell("val_acc", value) for value in (*objective, row.val_acc, row.test_acc)]
            cells = (rank, row.job, row.status, *metrics, row.epochs, cell("wall_s", row.wall_s))
            table.add_row(*("" if c is None else str(c) for c in cells))
        Console(width=160).print(table)
        if best := best_trial_line(folder):
            log.info(best)
        figure = f", {folder / 'val_acc.png'}" if (folder / "val_acc.png").is_file() else ""
        log.info(f"summary: {folder / 'summary.md'}, {folder / 'summary.csv'}{figure}")
        if any(folder.glob("*/tensorboard")):
            log.info(f"compare in TensorBoard: make tensorboard DIR={folder}")
        unfinished = [row for row in rows if row.status not in FINISHED]
        for row in unfinished:
            log.warning(f"{row.job}: {row.status}" + (f": {row.error}" if row.error else ""))
        return len(unfinished)


def planned_jobs(config: DictConfig) -> int | None:
    """How many jobs the sweep will run: a search's n_trials, or the product of the swept values' counts."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    sweeper = config.hydra.sweeper
    if sweeper.get("n_trials"):
        return int(sweeper.n_trials)
    params = [f"{key}={value}" for key, value in (sweeper.get("params") or {}).items()]
    total = 1
    for override in OverridesParser.create().parse_overrides([*config.hydra.overrides.task, *params]):
        if override.is_sweep_override():
            if override.is_interval_sweep():
                return None
            total *= len(list(override.sweep_string_iterator()))
    return total
