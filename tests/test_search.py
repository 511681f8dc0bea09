"""Optuna searches through the real CLI: pruning, resuming from storage, parallel trials, the space, bad input."""

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import optuna
import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

import processes
from conftest import CONF, ROOT, tiny_overrides
from mlplab.config import register_configs
from mlplab.runs import load_run
from mlplab.sweeps.search_space import search_space
from mlplab.sweeps.study_storage import open_storage

BAD_LR = 1e-05  # a learning rate at which the MLP learns nothing in a few epochs: the region to prune


def _search_command(data: Path, sweep_dir: Path, *args: str, epochs: int = 2) -> list[str]:
    overrides = [o for o in tiny_overrides(data, sweep_dir) if not o.startswith(("output_dir", "trainer.max_epochs"))]
    return [
        sys.executable, str(ROOT / "src" / "train.py"), "hparams_search=optuna", *overrides,
        f"trainer.max_epochs={epochs}", f"hydra.sweep.dir={sweep_dir}", *args,
    ]  # fmt: skip


def _search(data: Path, sweep_dir: Path, *args: str, epochs: int = 2) -> subprocess.CompletedProcess[str]:
    command = _search_command(data, sweep_dir, *args, epochs=epochs)
    return processes.run(command, capture_output=True, text=True, timeout=600)


def _study(location: str) -> optuna.Study:
    return optuna.load_study(study_name="mlplab", storage=open_storage(location))


def _summary_rows(sweep: Path) -> list[dict[str, str]]:
    with (sweep / "summary.csv").open() as handle:
        return list(csv.DictReader(handle))


def _status(run_folder: str) -> str:
    return json.loads((Path(run_folder) / "status.json").read_text())["status"]


@pytest.mark.slow
def test_a_pruner_stops_the_trials_of_a_bad_region_after_one_epoch(fake_data: Path, tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    # Two learning rates: 0.5 learns the fake data in an epoch, BAD_LR not at all. With one trial to
    # start from, the median pruner compares every later trial with those before it, epoch by epoch.
    result = _search(
        fake_data, sweep, f"model.optimizer.lr=choice(0.5,{BAD_LR})", "hidden=64x1", "activation=relu",
        "hydra.sweeper.n_trials=4", "hydra.sweeper.pruner.n_startup_trials=1", epochs=3,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    trials = _study(str(sweep / "optuna.journal")).trials
    assert len(trials) == 4
    assert [t.params for t in trials if t.state == TrialState.PRUNED], "seed 42 samples the bad region after trial 0"
    for trial in trials[1:]:
        bad = trial.params["model.optimizer.lr"] == BAD_LR
        assert trial.state == (TrialState.PRUNED if bad else TrialState.COMPLETE), trial
        assert _status(trial.user_attrs["run_folder"]) == ("pruned" if bad else "completed")
        run = load_run(Path(trial.user_attrs["run_folder"]))
        reported = [round(v, 4) for v in trial.intermediate_values.values()]
        assert reported == [round(v, 4) for _, v in run.scalars["acc/val"]], "every epoch's val acc, as logged"
        assert len(reported) == (1 if bad else 3)

    rows = {row["job"]: row for row in _summary_rows(sweep)}
    for trial in trials:
        row = rows[Path(trial.user_attrs["run_folder"]).name]
        assert row["status"] == ("pruned" if trial.state == TrialState.PRUNED else "completed")
        assert row["epochs"] == ("1" if trial.state == TrialState.PRUNED else "3")
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert results["best_params"] == {"model.optimizer.lr": 0.5}
    pruned = sum(t.state == TrialState.PRUNED for t in trials)
    assert results["trials"] == {"complete": 4 - pruned, "pruned": pruned, "fail": 0}
    assert (
        f"best trial {results['best_trial']}, val acc {results['best_value']:.4f}" in (sweep / "summary.md").read_text()
    )


@pytest.mark.slow
def test_an_interrupted_search_resumes_from_its_database_and_counts_on(fake_data: Path, tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    settings = ("hydra.sweeper.n_trials=4", f"hydra.sweeper.storage={storage}")
    command = _search_command(fake_data, tmp_path / "a", *settings, epochs=40)  # trials of seconds: caught running
    first = processes.Process(command)
    # Ctrl-C once the second trial has trained an epoch.
    second_trial_trained = lambda: any("epoch 1," in log.read_text() for log in (tmp_path / "a").glob("1_*/train.log"))  # noqa: E731
    processes.wait_until(second_trial_trained, "the second trial's first epoch", timeout=300, process=first)
    first.send_signal(signal.SIGINT)
    code, output = first.finish(timeout=120)
    assert code != 0, output[-3000:]
    trials = _study(storage).trials
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.FAIL], "no trial left running"
    assert _status(str(next((tmp_path / "a").glob("1_*")))) == "interrupted"

    again = _search(fake_data, tmp_path / "b", "hydra.sweeper.n_trials=2", f"hydra.sweeper.storage={storage}")
    assert again.returncode == 0, again.stderr[-3000:]
    trials = _study(storage).trials
    assert [t.number for t in trials] == [0, 1, 2, 3]
    assert [t.state for t in trials[2:]] == [TrialState.COMPLETE, TrialState.COMPLETE]
    assert sorted(p.name.split("_")[0] for p in (tmp_path / "b").iterdir() if p.is_dir()) == ["2", "3"]
    results = yaml.safe_load((tmp_path / "b" / "optimization_results.yaml").read_text())
    assert results["trials"] == {"complete": 3, "pruned": 0, "fail": 1}
    assert results["best_value"] == max(t.value for t in trials if t.state == TrialState.COMPLETE)


@pytest.mark.slow
def test_a_resumed_search_draws_new_values_not_its_first_trials_again(fake_data: Path, tmp_path: Path) -> None:
    journal = str(tmp_path / "study.journal")
    for sweep in ("first", "resumed"):
        result = _search(
            fake_data, tmp_path / sweep, "hydra.sweeper.n_trials=2", f"hydra.sweeper.storage={journal}", epochs=1
        )
        assert result.returncode == 0, result.stderr[-3000:]
    first, resumed = (_study(journal).trials[i : i + 2] for i in (0, 2))
    assert [t.number for t in resumed] == [2, 3]
    assert {t.params["model.optimizer.lr"] for t in resumed}.isdisjoint(t.params["model.optimizer.lr"] for t in first)


def _writer_pids(run_folder: Path) -> set[int]:
    """The processes that wrote a run's TensorBoard files: events.out.tfevents.<time>.<host>.<pid>.<n>."""
    return {int(event.name.split(".")[-2]) for event in (run_folder / "tensorboard").glob("events.out.tfevents.*")}


@pytest.mark.slow
def test_two_trials_run_in_parallel_through_joblib_and_share_one_journal(fake_data: Path, tmp_path: Path) -> None:
    journal = tmp_path / "shared" / "study.journal"
    command = _search_command(
        fake_data, tmp_path / "sweep", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "threads=1",
        "hydra.sweeper.n_jobs=2", "hydra.sweeper.n_trials=2", f"hydra.sweeper.storage={journal}",
    )  # fmt: skip
    search = processes.Process(command)
    code, output = search.finish(timeout=600)
    assert code == 0, output[-3000:]
    trials = _study(str(journal)).trials
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.COMPLETE]
    folders = [Path(t.user_attrs["run_folder"]) for t in trials]
    pids = [_writer_pids(folder) for folder in folders]
    # Asked for together and launched as one batch, each trial trained in a joblib worker of its own.
    assert all(len(p) == 1 for p in pids) and pids[0] != pids[1] and search.pid not in pids[0] | pids[1]
    for trial, folder in zip(trials, folders, strict=True):
        run = load_run(folder)
        assert len(trial.intermediate_values) == 2, "each worker process reported its epochs to the journal"
        assert trial.value == pytest.approx(run.last("acc/val"), abs=1e-6)


def test_the_search_space_is_read_from_hydra_sweep_syntax() -> None:
    params = yaml.safe_load((CONF / "hparams_search" / "optuna.yaml").read_text())["hydra"]["sweeper"]["params"]
    space = search_space(params, ["activation=tanh", "data.batch_size=tag(int, interval(32, 256))", "seed=1,2"])
    assert space.distributions == {
        "model.optimizer.lr": FloatDistribution(0.01, 1.0, log=True),
        "hidden": CategoricalDistribution(["64x1", "256x1", "1024x1", "512x2"]),
        "data.batch_size": IntDistribution(32, 256),
        "seed": CategoricalDistribution([1, 2]),
    }
    assert space.fixed == ["activation=tanh"], "a single value on the command line takes its key out of the space"


@pytest.mark.parametrize(
    ("pruner", "expected"),
    [("median", optuna.pruners.MedianPruner), ("successive_halving", optuna.pruners.SuccessiveHalvingPruner)],
)
def test_the_pruner_is_a_config_group(pruner: str, expected: type) -> None:
    register_configs()
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        cfg = compose(
            "train", overrides=["hparams_search=optuna", f"hydra/sweeper/pruner={pruner}"], return_hydra_config=True
        )
    assert isinstance(instantiate(cfg.hydra.sweeper.pruner), expected)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("hidden=choice(64x1,abc)", "hidden=abc is not allowed: give a width"),
        ("activation=choice(relu,tahn)", "activation=tahn is not an option; choose one of:"),
    ],
)
def test_bad_search_settings_stop_with_one_line_before_any_trial(
    fake_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], override: str, message: str
) -> None:
    code, _, err = processes.command_line_answer(_search_command(fake_data, tmp_path / "sweep", override)[2:], capsys)
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err, err
    assert not any(p.is_dir() for p in (tmp_path / "sweep").glob("*")), "no trial ran"


@pytest.mark.slow
def test_a_bad_search_budget_stops_the_search_with_one_line_before_any_trial(fake_data: Path, tmp_path: Path) -> None:
    result = _search(fake_data, tmp_path / "sweep", "hydra.sweeper.n_trials=0")
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last == "error: hydra.sweeper.n_trials=0 is not allowed: it must be an integer >= 1", result.stderr
    assert not any(p.is_dir() for p in (tmp_path / "sweep").glob("*")), "no trial ran"


@pytest.mark.slow
def test_a_plain_run_does_not_import_optuna(fake_data: Path, tmp_path: Path) -> None:
    overrides = [o for o in tiny_overrides(fake_data, tmp_path) if not o.startswith("output_dir")]
    folders = [f"hydra.run.dir={tmp_path / 'run'}", f"outputs={tmp_path}"]  # never the checkout's outputs/
    command = [sys.executable, "-X", "importtime", str(ROOT / "src" / "train.py"), *overrides, *folders]
    result = processes.run([*command, "trainer.max_epochs=1"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert "pytorch_lightning" in imported, "the list is the run's imports"
    assert not {name for name in imported if name.split(".")[0] in ("optuna", "sqlalchemy", "alembic")}


@pytest.mark.slow
def test_make_dashboard_serves_a_search_journal_on_localhost(tmp_path: Path) -> None:
    journal = tmp_path / "optuna.journal"
    study = optuna.create_study(study_name="mlplab", storage=open_storage(str(journal)), direction="maximize")
    study.optimize(lambda trial: trial.suggest_float("model.optimizer.lr", 0.01, 1.0), n_trials=3)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    venv = Path(sys.executable).parent.parent  # -o: use this environment as it is, whatever its age
    command = ["make", "-s", f"VENV={venv}", "-o", f"{venv}/.installed", "dashboard", f"STORAGE={journal}"]
    server = subprocess.Popen(
        [*command, f"DASHBOARD_PORT={port}"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,  # make and the server it starts form one process group, stopped together
    )  # fmt: skip
    api = f"http://127.0.0.1:{port}/api/studies"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(api, timeout=5) as reply:
                    studies = json.loads(reply.read())["study_summaries"]
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "the dashboard did not come up"
                time.sleep(0.2)
        assert [(s["study_name"], s["directions"]) for s in studies] == [("mlplab", ["maximize"])]
        with urllib.request.urlopen(f"{api}/{studies[0]['study_id']}", timeout=5) as reply:
            shown = json.loads(reply.read())
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    assert len(shown["trials"]) == 3 and shown["best_trials"][0]["values"] == [study.best_value]
