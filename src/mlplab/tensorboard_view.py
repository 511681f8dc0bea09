"""A folder of links that shows runs to TensorBoard under readable names, with one experiment summary for them all.

TensorBoard names a run by its path below --logdir: `multirun/2026-12-02_.../0_scratch-relu/tensorboard`
reads `multirun/2026-1…` in every row of HPARAMS. In the view the same run is `scratch-relu@12-02_12-10-05_0`
(or `0_scratch-relu` when one sweep is served): what distinguishes it first, then its sweep and number.
"""

import re
from pathlib import Path

from mlplab.hparams import run_hparams
from mlplab.hparams_events import SESSION_FILE, session_start, write_events, write_experiment
from mlplab.naming import JOB, split_folder_name
from mlplab.runs import reached_through_link


def run_folders(folder: Path) -> list[Path]:
    """Every run folder at or below `folder` that has TensorBoard events, in a stable order."""

    def natural(path: Path) -> list[int | str]:  # job 10 after job 9, not after job 1
        return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(path))]

    configs = sorted(folder.glob("**/config.yaml"), key=natural)
    runs = [c.parent for c in configs if c.parent.name != ".hydra" and (c.parent / "tensorboard").is_dir()]
    return [run for run in runs if not reached_through_link(run, folder)]


def view_name(run: Path, folder: Path) -> str:
    """What the view calls `run` when `folder` is served: values first, then when it ran."""
    if run == folder:
        return split_folder_name(run.name)[0]
    what, when = split_folder_name(run.name)
    job = JOB.match(run.name)
    if when is None and job is not None:
        if run.parent == folder:
            return run.name  # one sweep served: its job folders' own names, `3_concise-tanh`
        # Beside other runs, `@` and its sweep: when it started, or the name its folder was given.
        sweep = split_folder_name(run.parent.name)[1] or run.parent.name
        return f"{job.group(2)}@{sweep}_{job.group(1)}"
    return f"{what}_{when}" if when else "_".join(run.relative_to(folder).parts)


def build_view(folder: Path, view: Path) -> dict[str, Path]:
    """Link every run below `folder` into `view` under its view name and write their experiment; return name -> run."""
    names: dict[str, Path] = {}
    for run in run_folders(folder):
        name = view_name(run, folder)
        unique, n = name, 2
        while unique in names:  # the same settings started in the same second
            unique, n = f"{name}_{n}", n + 1
        names[unique] = run
        # A folder of links to the run's event files, not a link to its folder: the experiment below
        # goes into one of these folders without touching the run's own.
        (view / unique).mkdir()
        # Its values as the experiment below names them, whatever an older version of the run recorded.
        write_events(view / unique / SESSION_FILE, [session_start(run_hparams(run))])
    link_new_events(view, names)
    if names:
        # Into the folder of the run TensorBoard lists first: at the view's root it would be a run of its
        # own, "." in every run list; and TensorBoard takes the first experiment it finds.
        write_experiment(view / min(names), list(names.values()))
    return names


def link_new_events(view: Path, names: dict[str, Path]) -> int:
    """Link the event files the runs wrote since the view was built (eval, resume); return how many."""
    added = 0
    for name, run in names.items():
        for events in sorted((run / "tensorboard").glob("events.out.tfevents.*")):
            if not (view / name / events.name).is_symlink():
                (view / name / events.name).symlink_to(events.resolve())
                added += 1
    return added
