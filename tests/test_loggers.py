"""Loggers as a list: TensorBoard, CSV or both; whatever they are, summaries read what every run writes."""

import csv
from collections.abc import Callable
from pathlib import Path

import pytest
from omegaconf import DictConfig
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import processes
from conftest import ROOT, tiny_overrides
from mlplab.status import recorded_status
from mlplab.sweeps.summary import write_summary
from mlplab.training import train


def test_tensorboard_and_csv_log_the_same_run_side_by_side(make_cfg: Callable[..., DictConfig]) -> None:
    cfg = make_cfg("logger=[tensorboard,csv]")
    metrics = train(cfg)
    folder = Path(cfg.output_dir)
    with (folder / "csv" / "metrics.csv").open() as handle:
        rows = [row for row in csv.DictReader(handle) if row.get("acc/val")]
    assert [round(float(row["acc/val"]), 6) for row in rows][-1] == round(metrics["acc/val"], 6)
    events = EventAccumulator(str(folder / "tensorboard"))
    events.Reload()
    assert events.Scalars("acc/val")[-1].value == pytest.approx(metrics["acc/val"])
    assert "_hparams_/session_start_info" in events.PluginTagToContent("hparams"), "HPARAMS found TensorBoard's logger"


def test_a_csv_only_run_has_no_tensorboard_events_and_still_trains_whole(make_cfg: Callable[..., DictConfig]) -> None:
    cfg = make_cfg("logger=csv", "callbacks.gradient_stats.histograms=true")
    train(cfg)  # the activation figure, histograms and HPARAMS are TensorBoard's: skipped, quietly
    folder = Path(cfg.output_dir)
    assert not (folder / "tensorboard").exists() and (folder / "csv" / "metrics.csv").is_file()


def test_a_summary_of_csv_only_runs_ranks_them_by_their_recorded_accuracy(
    make_cfg: Callable[..., DictConfig], tmp_path: Path
) -> None:
    sweep = tmp_path / "sweep"
    finals = {}
    for job, lr in (("0_lr0.001", 0.001), ("1_lr0.5", 0.5)):
        cfg = make_cfg("logger=csv", f"lr={lr}", f"output_dir={sweep / job}")
        with recorded_status(sweep / job):
            finals[job] = train(cfg)
    rows = write_summary(sweep)
    assert [row.job for row in rows] == ["1_lr0.5", "0_lr0.001"], "the better validation accuracy first"
    assert "Ranked by acc/val (maximize)" in (sweep / "summary.md").read_text()
    assert not (sweep / "val_acc.png").exists(), "no TensorBoard curves to draw: no empty figure"
    for row in rows:
        assert (row.status, row.epochs) == ("completed", 2)
        assert row.val_acc == round(finals[row.job]["acc/val"], 4) and row.test_acc is not None


@pytest.mark.slow
def test_a_csv_logged_sweep_prints_and_writes_a_ranked_summary(fake_data: Path, tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    overrides = [o for o in tiny_overrides(fake_data, tmp_path) if not o.startswith("output_dir")]
    command = [str(ROOT / "src" / "train.py"), "-m", *overrides, "logger=csv", "lr=0.001,0.5"]
    result = processes.run([processes.sys.executable, *command, f"hydra.sweep.dir={sweep}"])
    assert result.returncode == 0, result.stderr[-3000:]
    with (sweep / "summary.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["epochs"], bool(row["val_acc"])) for row in rows] == [("2", True), ("2", True)]
    assert float(rows[0]["val_acc"]) >= float(rows[1]["val_acc"])


def test_mlflow_logs_the_run_into_a_local_store_read_back_through_its_client(
    make_cfg: Callable[..., DictConfig], tmp_path: Path
) -> None:
    from mlflow.tracking import MlflowClient

    cfg = make_cfg("logger=[tensorboard,mlflow]", f"outputs={tmp_path / 'outputs'}")
    metrics = train(cfg)
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'outputs' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("mlplab")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.data.tags["run_folder"] == cfg.output_dir
    assert run.data.metrics["acc/val"] == pytest.approx(metrics["acc/val"])
    assert [m.value for m in client.get_metric_history(run.info.run_id, "acc/val")][-1] == pytest.approx(
        metrics["acc/val"]
    )
    assert run.info.status == "FINISHED"
