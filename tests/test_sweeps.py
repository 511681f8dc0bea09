"""Multiruns through the real CLI: job folders named by what varies, summaries, launchers, failures.

Optuna searches: test_search.py.
"""

import csv
import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
import torch
import yaml

import processes
from conftest import ROOT, tiny_overrides
from mlplab.figures.curves import epochs_of
from mlplab.runs import load_run
from mlplab.sweeps.summary import write_summary

# Every test here runs a multirun or a script in a process of its own.
pytestmark = pytest.mark.slow


def _multirun(data: Path, sweep_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    overrides = [o for o in tiny_overrides(data, sweep_dir) if not o.startswith(("output_dir", "trainer.max_epochs"))]
    epochs = [] if any(a.startswith("trainer.max_epochs=") for a in args) else ["trainer.max_epochs=1"]
    command = [sys.executable, str(ROOT / "src" / "train.py"), "-m", *overrides, *epochs]
    return processes.run([*command, f"hydra.sweep.dir={sweep_dir}", *args], capture_output=True, text=True, timeout=600)


def _summary(sweep_dir: Path) -> list[dict[str, str]]:
    with (sweep_dir / "summary.csv").open() as handle:
        return list(csv.DictReader(handle))


def test_two_job_multirun_names_jobs_by_one_rule_and_summarises_them(fake_data: Path, tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    result = _multirun(fake_data, sweep, "model=scratch,concise", "activation=tanh")
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = sorted(p.name for p in sweep.iterdir() if p.is_dir())
    # One rule for every run: model, activation, then what the command line sets, swept or not, in one order.
    tiny = "batch_size=64-val_size=200-max_epochs=1"
    assert jobs == [f"0_scratch-tanh-{tiny}", f"1_concise-tanh-{tiny}"]
    for job in jobs:
        assert list((sweep / job / "tensorboard").glob("events.out.tfevents.*")), job
        assert yaml.safe_load((sweep / job / "config.yaml").read_text())["model"]["activation"] == "tanh"

    rows = _summary(sweep)
    assert [r["job"] for r in rows] == sorted(
        jobs, key=lambda j: -float(next(r for r in rows if r["job"] == j)["val_acc"])
    )
    for row in rows:
        run = load_run(sweep / row["job"])
        assert float(row["val_acc"]) == pytest.approx(run.last("acc/val"), abs=1e-4), "table = logged values"
        assert row["status"] == "completed" and row["epochs"] == "1" and float(row["wall_s"]) > 0
    markdown = (sweep / "summary.md").read_text()
    assert "| rank | job | overrides |" in markdown
    assert all(f" {float(row['val_acc']):.4f} |" in markdown for row in rows), "every metric with 4 decimals"
    assert all(f" {float(row['wall_s']):.2f} |" in markdown for row in rows), "seconds with 2 decimals"
    assert (sweep / "val_acc.png").read_bytes()[:4] == b"\x89PNG"


def test_a_grid_run_again_into_its_named_folder_is_refused_and_leaves_the_jobs_alone(
    fake_data: Path, tmp_path: Path
) -> None:
    sweep = tmp_path / "lr_study"
    assert _multirun(fake_data, sweep, "lr=0.1,0.2").returncode == 0
    before = {job.name: (job / "status.json").read_bytes() for job in sweep.glob("[01]_*")}
    again = _multirun(fake_data, sweep, "lr=0.1,0.2")
    assert again.returncode == 2 and "Traceback" not in again.stderr
    assert f"error: hydra.sweep.dir={sweep} already holds a sweep's jobs (0_scratch-relu-lr0.1-" in again.stderr
    assert {job.name: (job / "status.json").read_bytes() for job in sweep.glob("[01]_*")} == before


def test_a_long_name_keeps_the_value_the_sweep_varies(fake_data: Path, tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    fixed = ("model=concise", "hidden=[512,256,128]", "optimizer=adamw", "scheduler=cosine", "model.dropout=0.3")
    assert _multirun(fake_data, sweep, *fixed, "seed=1,2").returncode == 0
    jobs = sorted(p.name for p in sweep.iterdir() if p.is_dir())
    assert [job.split("seed=")[1][0] for job in jobs] == ["1", "2"], jobs  # other settings left out, not the seed
    kept = "concise-relu-h512-256-128-adamw-cosine"  # what trains comes first
    assert all(len(job) <= 2 + 80 and job.startswith(f"{job[0]}_{kept}") for job in jobs), jobs


@pytest.mark.parametrize(("swept", "second_value"), [("seed=1,2", "seed=2"), ("lr=0.1,0.2", "lr=0.2")])
def test_jobs_after_the_first_train_as_single_runs_do(
    fake_data: Path, tmp_path: Path, swept: str, second_value: str
) -> None:
    # The second job reuses what the first decoded and hashed in the same process, and with the same
    # seed its splits too: the same data, the same weights, the same metrics as a run of its own.
    sweep = tmp_path / "sweep"
    assert _multirun(fake_data, sweep, swept).returncode == 0
    (second,) = sweep.glob("1_*")
    overrides = [o for o in tiny_overrides(fake_data, tmp_path / "alone") if not o.startswith("trainer.max_epochs")]
    command = [sys.executable, str(ROOT / "src" / "train.py"), *overrides, "trainer.max_epochs=1", second_value]
    assert processes.run(command, capture_output=True, timeout=600).returncode == 0
    runs = (second, tmp_path / "alone")
    metrics = [json.loads((run / "metrics.json").read_text()) for run in runs]
    for values in metrics:
        del values["time/train_epoch_s"]  # the one number that depends on the machine's load
    assert metrics[0] == metrics[1]
    assert (runs[0] / "data.json").read_text() == (runs[1] / "data.json").read_text()
    weights = [torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"] for run in runs]
    assert weights[0].keys() == weights[1].keys() and all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_a_failed_job_is_recorded_and_the_others_complete(fake_data: Path, tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    result = _multirun(fake_data, sweep, "model.optimizer.lr=1e6,0.3")
    assert result.returncode == 0, result.stderr[-3000:]
    by_status = {row["status"]: row for row in _summary(sweep)}
    assert set(by_status) == {"completed", "diverged"}
    # The learning rate comes right after the model and activation, as people read it; config.yaml has the number.
    assert by_status["diverged"]["job"] == "0_scratch-relu-lr1e+06-batch_size=64-val_size=200-max_epochs=1"
    assert "training diverged" in by_status["diverged"]["error"]
    assert (sweep / "1_scratch-relu-lr0.3-batch_size=64-val_size=200-max_epochs=1" / "metrics.json").is_file()


def test_the_summary_callback_leaves_its_readers_unimported_in_a_single_run() -> None:
    # Hydra builds the callback in every run: a single run must not pay for the TensorBoard reader.
    probe = "import sys, mlplab.sweeps.callback; print(sorted({'mlplab.runs', 'rich.table'} & set(sys.modules)))"
    result = processes.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT / "src", check=True)
    assert result.stdout.strip() == "[]"


def test_summarize_rebuilds_the_table_of_any_folder(fake_data: Path, tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    # Validating only after the last of 2 epochs, as the presets do: the table still counts 2 epochs.
    validate_once = ("trainer.max_epochs=2", "trainer.check_val_every_n_epoch=2")
    assert _multirun(fake_data, sweep, "seed=1,2", *validate_once).returncode == 0
    (sweep / "summary.csv").unlink()
    result = processes.run(
        [sys.executable, str(ROOT / "src" / "summarize.py"), str(sweep)], capture_output=True, text=True
    )
    (first,) = sweep.glob("0_*-seed=1-*")
    assert result.returncode == 0 and first.name in result.stdout
    assert [row["epochs"] for row in _summary(sweep)] == ["2", "2"]
    run = load_run(first)
    assert epochs_of(run, "acc/val") == [(2.0, run.last("acc/val"))], "val_acc.png: the one validation at epoch 2"
    assert len(list(sweep.glob("events.out.tfevents.*"))) == 1, "rewritten, not added"
    assert write_summary(tmp_path / "empty") == []


def test_joblib_launcher_runs_jobs_in_parallel_processes(fake_data: Path, tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    # Jobs of a few seconds each, longer than the spread of their processes' start-up.
    jobs = ("hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "threads=1", "seed=1,2", "trainer.max_epochs=40")
    result = _multirun(fake_data, sweep, *jobs)
    assert result.returncode == 0, result.stderr[-3000:]
    assert [r["status"] for r in _summary(sweep)] == ["completed", "completed"]
    logs = [(job / "train.log").read_text() for job in sorted(sweep.glob("[01]_*"))]
    assert all("epoch 1, loss" in log and "Trainer.fit" in log for log in logs)
    # In parallel: each job started training before the other had finished testing.
    spans = [(_logged_at(log, "run folder:"), _logged_at(log, "test acc")) for log in logs]
    assert max(start for start, _ in spans) < min(end for _, end in spans), spans


def _logged_at(log: str, text: str) -> datetime:
    """When train.log's first line holding `text` was written ([2026-12-04 02:11:16,123][...] - ...)."""
    line = next(line for line in log.splitlines() if text in line)
    return datetime.strptime(line[1:24], "%Y-%m-%d %H:%M:%S,%f")


def test_submitit_local_launcher_runs_each_job_as_a_submitted_job(fake_data: Path, tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    result = _multirun(fake_data, sweep, "hydra/launcher=submitit_local", "threads=1", "activation=relu,tanh")
    assert result.returncode == 0, result.stderr[-3000:]
    assert [r["status"] for r in _summary(sweep)] == ["completed", "completed"]
    assert list((sweep / ".submitit").glob("*/*_result.pkl")), "submitit ran the jobs"


def test_the_slurm_launcher_follows_the_upstream_launch_it_was_written_from() -> None:
    import hashlib
    import inspect

    from hydra_plugins.hydra_submitit_launcher.submitit_launcher import BaseSubmititLauncher

    from hydra_plugins.mlplab_slurm.slurm_launcher import UPSTREAM_LAUNCH_SHA256

    upstream = hashlib.sha256(inspect.getsource(BaseSubmititLauncher.launch).encode()).hexdigest()
    assert upstream == UPSTREAM_LAUNCH_SHA256, (
        "hydra-submitit-launcher's launch() changed: compare it with MlplabSlurmLauncher.launch "
        "(src/hydra_plugins/mlplab_slurm/slurm_launcher.py), then record the new SHA-256"
    )
