"""Where a sweep's time goes: the README's 6-job grid through src/train.py -m against one plain process.

Used by benchmarks/bench.py. (f) `src/train.py -m model=scratch,concise activation=relu,sigmoid,tanh`,
5 epochs each, with the chapter's test-every-epoch (data.val_size=0) so that each job does the work
benchmarks/plain_sweep.py's does; (g) plain_sweep.py, the six trainings in one plain process; (h) an
Optuna search of six trials (hparams_search=optuna, 5 epochs each, no pruning); (i) the grid of (f) two
jobs at a time (hydra/launcher=joblib, one thread each). Each job's time beyond
its training epochs is split by its train.log's timestamps into the phases named in PHASES.
"""

import json
import re
import statistics
import sys
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

GRID = ["-m", "model=scratch,concise", "activation=relu,sigmoid,tanh", "data.val_size=0", "trainer.max_epochs=5"]
# (i) The grid as `make sweep` runs it: two jobs at a time, one thread each (joblib's worker processes).
SIDE_BY_SIDE = [*GRID, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "threads=1"]
SEARCH = ["hparams_search=optuna", "hydra.sweeper.n_trials=6", "hydra/sweeper/pruner=none", "trainer.max_epochs=5"]
# A job's life in its train.log: the first line (its model), the data read, its last epoch, its test.
MARKS = {"model": "ScratchMLP|ConciseMLP", "data": "data:", "last epoch": "epoch {epochs},", "test": "test acc"}
PHASES = (
    "job start to its first line: checks, model",
    "first line to data: loggers, trainer, data read",
    "epochs beyond training: validation, checkpoints",
    "the test",
    "after the test: HPARAMS, metrics, status",
    "the sweep process beyond its jobs, per job",
)
STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]")


class Sweep(NamedTuple):
    """One sweep process: its wall seconds, and per job the seconds of its epochs and of each phase."""

    wall: float
    epochs: list[float]  # per job: the training epochs' seconds, summed
    phases: list[dict[str, float]]  # per job: phase -> seconds


def read_sweep(folder: Path, wall: float, epochs: int) -> Sweep:
    """A finished sweep folder's jobs, timed from their train.log, TensorBoard scalars and status.json."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from mlplab.runs import load_run

    jobs = sorted(p.parent for p in folder.glob("*/status.json"))
    trained, marks, ends, walls = [], [], [], []
    for job in jobs:
        trained.append(sum(v for _, v in load_run(job).scalars["time/train_epoch_s"]))
        messages = [
            (_time(line), line.split(" - ", 1)[1])
            for line in (job / "train.log").read_text().splitlines()
            if STAMP.match(line)
        ]
        found = {}
        for mark, pattern in MARKS.items():
            wanted = re.compile(r"(\[[^\]]*\] )?(" + pattern.format(epochs=epochs) + ")")
            found[mark] = next(at for at, message in messages if wanted.match(message))
        marks.append(found)
        ends.append((job / "status.json").stat().st_mtime)
        walls.append(json.loads((job / "status.json").read_text())["wall_s"])
    beyond_jobs = (wall - sum(walls)) / len(jobs)
    phases = [
        dict(zip(PHASES, (
            job_wall - (end - m["model"]),
            m["data"] - m["model"],
            m["last epoch"] - m["data"] - train,
            m["test"] - m["last epoch"],
            end - m["test"],
            beyond_jobs,
        ), strict=True))
        for m, end, job_wall, train in zip(marks, ends, walls, trained, strict=True)
    ]  # fmt: skip
    return Sweep(wall, trained, phases)


def _time(line: str) -> float:
    return datetime.strptime(STAMP.match(line).group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()


def plain(out: str) -> Sweep:
    """benchmarks/plain_sweep.py's JSON line as a Sweep (its jobs have no phases but their epochs)."""
    result = json.loads(out.splitlines()[-1])
    jobs = result["jobs"]
    return Sweep(result["wall_s"], [sum(j["epoch_seconds"]) for j in jobs], [])


def beyond_epochs(sweep: Sweep) -> float:
    """The sweep's seconds not spent in training epochs: its process, its jobs' setup, validation, tests."""
    return sweep.wall - sum(sweep.epochs)


def _spread(sweeps: list[Sweep], plains: list[Sweep]) -> str:
    """Each repeat's wall time over the plain process's of the same repeat: low / median / high."""
    ratios = sorted(s.wall / p.wall for s, p in zip(sweeps, plains, strict=True))
    return " / ".join(f"{r:.2f}" for r in (ratios[0], statistics.median(ratios), ratios[-1])) + "x"


def table(grids: list[Sweep], plains: list[Sweep], searches: list[Sweep], side_by_side: list[Sweep]) -> str:
    """The Markdown tables: the four sweeps' wall times and ratios, then where a job's time goes."""
    runs = {"grid": grids, "plain": plains, "search": searches, "side by side": side_by_side}
    best = {name: min(sweeps, key=lambda s: s.wall) for name, sweeps in runs.items()}
    rows = [
        "| sweep (6 jobs, 5 epochs each) | wall s | vs (g) | each repeat: low / median / high "
        "| training epochs s | the rest s | per job s |",
        "|---|---|---|---|---|---|---|",
    ]
    names = {
        "grid": "(f) src/train.py -m, the grid",
        "plain": "(g) one plain process, the grid",
        "search": "(h) src/train.py hparams_search=optuna, 6 trials",
        "side by side": "(i) make sweep: the grid, 2 jobs at a time of 1 thread (joblib)",
    }
    for key, name in names.items():
        sweep = best[key]
        rest = beyond_epochs(sweep)
        parallel = key == "side by side"  # its jobs' epochs overlap: their sum is no part of its wall time
        cells = [
            name,
            f"{sweep.wall:.1f}",
            f"{sweep.wall / best['plain'].wall:.2f}x",
            _spread(runs[key], plains) if key in ("grid", "side by side") else "",
            f"{sum(sweep.epochs):.1f}" + (" (summed)" if parallel else ""),
            "" if parallel else f"{rest:.1f}",
            "" if parallel else f"{rest / len(sweep.epochs):.2f}",
        ]
        rows.append("| " + " | ".join(cells) + " |")
    phases = [
        "| a job's time beyond its training epochs, median of its 6 jobs | (f) grid s | (h) search s |",
        "|---|---|---|",
    ]
    for phase in PHASES:
        grid = statistics.median(job[phase] for job in best["grid"].phases)
        search = statistics.median(job[phase] for job in best["search"].phases)
        phases.append(f"| {phase} | {grid:.2f} | {search:.2f} |")
    return "\n".join(rows) + "\n\n" + "\n".join(phases) + "\n"
