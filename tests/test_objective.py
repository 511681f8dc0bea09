"""The objective as config: what sweeps rank by and searches optimise (acc/val, maximised, by default)."""

import json
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
from omegaconf import DictConfig

from mlplab.status import recorded_status
from mlplab.sweeps.summary import write_summary
from mlplab.training import train
from processes import command_line_answer
from test_search import _search, _search_command, _study


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["objective.metric=acc/test"],
            "objective.metric=acc/test is not allowed: a search would tune on the test set",
        ),
        (["data.val_size=0"], "data.val_size=0 is not allowed: in a search the validation set would be the test set"),
        (["objective.direction=up"], "objective.direction=up is not allowed: choose one of: maximize, minimize"),
    ],
)
def test_a_search_that_would_tune_on_the_test_set_is_refused_in_one_line(
    fake_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = command_line_answer(_search_command(fake_data, tmp_path / "sweep", *args)[2:], capsys)
    assert (code, out) == (2, "") and err.startswith(f"error: {message}") and err.count("\n") == 1, err
    assert not (tmp_path / "sweep").exists()


def test_a_plain_run_may_report_the_test_accuracy_as_its_objective(make_cfg: Callable[..., DictConfig]) -> None:
    from mlplab.config import check

    check(make_cfg("objective.metric=acc/test"))  # not a search: nothing is tuned on it


def test_a_summary_ranks_by_the_objective_in_its_direction(make_cfg: Callable[..., DictConfig], tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    for job, lr in (("0_lr0.5", 0.5), ("1_lr0.001", 0.001)):
        cfg = make_cfg(
            f"lr={lr}", "objective.metric=loss/train", "objective.direction=minimize", f"output_dir={sweep / job}"
        )
        with recorded_status(sweep / job):
            train(cfg)
    rows = write_summary(sweep)
    assert [row.job for row in rows] == ["0_lr0.5", "1_lr0.001"], "the lower training loss first"
    assert rows[0].train_loss < rows[1].train_loss


@pytest.mark.slow
def test_a_search_minimising_the_validation_loss_tells_optuna_the_loss(fake_data: Path, tmp_path: Path) -> None:
    journal = tmp_path / "study.journal"
    settings = ("objective.metric=loss/val", "objective.direction=minimize", "hydra.sweeper.n_trials=2")
    result = _search(fake_data, tmp_path / "sweep", *settings, f"hydra.sweeper.storage={journal}")
    assert result.returncode == 0, result.stderr[-3000:]
    study = _study(str(journal))
    assert study.direction == optuna.study.StudyDirection.MINIMIZE
    for trial in study.trials:
        folder = Path(trial.user_attrs["run_folder"])
        loss = json.loads((folder / "metrics.json").read_text())["loss/val"]
        assert trial.value == pytest.approx(loss), "the trial's value is the validation loss"
