"""Summarise a folder of runs (a sweep): ranked table (CSV, Markdown), validation curves (PNG), HPARAMS experiment."""

import csv
import io
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from omegaconf import OmegaConf

from mlplab.hparams_events import write_experiment
from mlplab.naming import for_people
from mlplab.runs import Run, RunFolderError, load_run, reached_through_link
from mlplab.status import read_status, write_text_atomic

SEARCH_RESULTS = "optimization_results.yaml"  # an Optuna search's best trial (mlplab.sweeps.optuna_search)
METRICS = ("acc/train", "acc/val", "acc/test", "loss/train", "loss/val", "loss/test")
METRIC_COLUMNS = tuple(f"{split}_{kind}" for kind, split in (m.split("/") for m in METRICS))  # acc/val: val_acc


@dataclass
class JobSummary:
    """One job of a sweep, as its folder records it."""

    job: str
    overrides: str
    status: str
    epochs: int
    wall_s: float | None
    train_acc: float | None
    val_acc: float | None
    test_acc: float | None
    train_loss: float | None
    val_loss: float | None
    test_loss: float | None
    error: str


def summarise_job(folder: Path) -> tuple[JobSummary, Run | None]:
    """Read one job folder: its status, overrides, final metrics and, where it logged any, its TensorBoard scalars."""
    status = read_status(folder)  # `died` for a run killed while running; `unknown` for a damaged file
    overrides_file = folder / ".hydra" / "overrides.yaml"
    try:
        overrides = " ".join(OmegaConf.load(overrides_file)) if overrides_file.is_file() else ""
    except Exception:  # noqa: BLE001 - the row still shows the rest
        overrides = "(overrides.yaml cannot be read)"
    run = None
    if (folder / "config.yaml").is_file():
        try:
            run = load_run(folder)
        except RunFolderError as err:  # a damaged folder is a row with its problem; the others go on
            status = {"status": "unreadable", "error": str(err)}
    # metrics.json, which every completed run writes whatever its loggers; else what TensorBoard holds so far.
    final = _final_metrics(folder)
    values = {m: final.get(m) if final else (run.last(m) if run else None) for m in METRICS}
    logged_epochs = len(run.scalars.get("loss/train", [])) if run else 0  # logged every epoch, unlike acc/val
    epochs = int(final.get("epochs", logged_epochs)) if final else logged_epochs
    summary = JobSummary(
        folder.name, overrides, status["status"], epochs, status.get("wall_s"),
        *(None if values[m] is None else round(values[m], 4) for m in METRICS), _why(folder, status),
    )  # fmt: skip
    return summary, run


def _final_metrics(folder: Path) -> dict[str, float]:
    """The run's metrics.json, or nothing where it has none or it cannot be read."""
    try:
        metrics = json.loads((folder / "metrics.json").read_text())
    except (OSError, ValueError):
        return {}
    return metrics if isinstance(metrics, dict) else {}


def _why(folder: Path, status: dict) -> str:
    """The error a job ended with; for one stopped on the way, how to go on with it."""
    if status["status"] == "running" and status.get("slurm_job"):  # a sweep summarised before its jobs ended
        job = status["slurm_job"]
        return f"still running as SLURM job {job} (scancel {job} stops it); make summarize DIR={folder.parent} later"
    if status["status"] not in ("interrupted", "died"):
        return status.get("error", "")
    if (folder / "checkpoints" / "last.ckpt").is_file():
        then = f"continue with: python src/resume.py {folder}"
    else:
        then = "stopped before its first epoch ended: nothing to resume; start it again"
    return "; ".join(filter(None, [status.get("error") or status.get("signal"), then]))


def collect(folder: Path) -> list[tuple[JobSummary, Run | None]]:
    """Every job below `folder`, completed jobs ranked by their objective (validation accuracy), the rest after them."""
    folders = [s.parent for s in folder.glob("**/status.json") if not reached_through_link(s.parent, folder)]
    jobs = [summarise_job(job) for job in folders]
    metric, direction = objective_of(folders)
    kind, split = metric.split("/")  # acc/val: the column val_acc
    sign = -1.0 if direction == "maximize" else 1.0

    def rank(job: tuple[JobSummary, Run | None]) -> tuple[bool, bool, float, str]:
        value = getattr(job[0], f"{split}_{kind}")
        return job[0].status != "completed", value is None, sign * (value or 0.0), job[0].job

    return sorted(jobs, key=rank)


def objective_of(folders: list[Path]) -> tuple[str, str]:
    """The metric and direction the jobs were optimised for (their config.yaml's objective; acc/val, maximize)."""
    for folder in folders:
        try:
            objective = OmegaConf.load(folder / "config.yaml").get("objective") or {}
        except Exception:  # noqa: BLE001 - a damaged config is its own row; the next job's will do
            continue
        return objective.get("metric", "acc/val"), objective.get("direction", "maximize")
    return "acc/val", "maximize"


def cell(column: str, value: object) -> str:
    """A table cell as people read it: every metric with 4 decimals (0.8150, not 0.815 beside 0.8176)."""
    if value is None:
        return ""
    if isinstance(value, float) and column in METRIC_COLUMNS:
        return f"{value:.4f}"
    if isinstance(value, float) and column == "wall_s":
        return f"{value:.2f}"  # 0.50 beside 0.53, not 0.5
    return str(value).replace("|", "/")


def _markdown(rows: list[JobSummary]) -> str:
    columns = list(asdict(rows[0]))
    lines = ["| rank | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for rank, row in enumerate(rows, start=1):
        cells = [cell(column, value) for column, value in asdict(row).items()]
        lines.append(f"| {rank} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def best_trial_line(folder: Path) -> str | None:
    """For a search's folder, one line naming the study's best trial (which may have run in an earlier sweep)."""
    file = folder / SEARCH_RESULTS
    if not file.is_file():
        return None
    try:
        results = OmegaConf.load(file)
        counts = ", ".join(f"{n} {state}" for state, n in results.trials.items())
        if "best_trial" not in results:
            return f"Optuna study {results.study}: no completed trial yet ({counts})"
        params = " ".join(f"{k}={for_people(v)}" for k, v in results.best_params.items())
        return (
            f"Optuna study {results.study} ({counts}): best trial {results.best_trial}, "
            f"val acc {results.best_value:.4f}, {params} ({results.best_run_folder})"
        )
    except Exception as err:  # noqa: BLE001 - a damaged or cut-off record of the search; the table still stands
        reason = str(err).splitlines()[0][:120] if str(err) else type(err).__name__
        return f"{file} cannot be read ({reason}); the table below is read from the runs"


def summary_markdown(folder: Path, rows: list[JobSummary]) -> str:
    """summary.md: the search's best trial where there was a search, what the rows are ranked by, the table."""
    best = best_trial_line(folder)
    metric, direction = objective_of([folder / row.job for row in rows])
    ranked = f"Ranked by {metric} ({direction}), the jobs' objective; jobs that did not complete last.\n\n"
    return (f"{best}\n\n" if best else "") + ranked + _markdown(rows)


def write_summary(folder: Path, jobs: list[tuple[JobSummary, Run | None]] | None = None) -> list[JobSummary]:
    """Write summary.csv, summary.md, val_acc.png and the HPARAMS experiment into `folder`; return the ranked rows.

    `jobs` are the folder's jobs as collect() read them, if the caller has them already. Each file is
    written whole or not at all; an OSError (a read-only folder, a full disk) reaches the caller.
    """
    jobs = collect(folder) if jobs is None else jobs
    if not jobs:
        return []
    rows = [job for job, _ in jobs]
    table = io.StringIO(newline="")
    writer = csv.DictWriter(table, fieldnames=list(asdict(rows[0])))
    writer.writeheader()
    writer.writerows(asdict(row) for row in rows)
    write_text_atomic(folder / "summary.csv", table.getvalue())
    write_text_atomic(folder / "summary.md", summary_markdown(folder, rows))

    from mlplab.figures.curves import validation_curves  # matplotlib loads only when drawing

    curves = [(job.job, run) for job, run in jobs if run and "acc/val" in run.scalars]  # TensorBoard's
    (folder / "val_acc.png").unlink(missing_ok=True)  # a figure of an earlier summary would now mislead
    if curves:  # without TensorBoard events there are no curves to draw: no empty figure either
        drawn = folder / f".val_acc.png.{os.getpid()}.tmp"
        validation_curves(curves).savefig(drawn, dpi=100, format="png")
        os.replace(drawn, folder / "val_acc.png")
    # One experiment for the whole folder: TensorBoard pointed at it lists every run's values, what differs first.
    logged = [run.folder for _, run in jobs if run and (run.folder / "tensorboard").is_dir()]
    if logged:
        write_experiment(folder, logged)
    return rows
