"""Runs that survive: each fault provoked for real, then what the user sees and what is on disk.

Eval, predict and resume refusals call the scripts' main() in-process on a copy of the session's trained
run; signals, kills and concurrent runs need real processes and are slow tests.
"""

import json
import shutil
import signal
import sys
from pathlib import Path

import pytest
import torch
import yaml
from torchvision.io import write_png

from conftest import ROOT, make_fake_fashion_mnist, tiny_overrides
from mlplab.data.idx import read_idx, write_idx
from mlplab.data.locate import FILES
from processes import Process, command_line_answer, main_of, run, script


@pytest.fixture(scope="module")
def slow_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Enough synthetic images that an epoch lasts long enough to be interrupted in the middle of a run."""
    return make_fake_fashion_mnist(tmp_path_factory.mktemp("slow-data"), n_train=9000, n_test=500)


def _cli(data: Path, run_dir: Path, *args: str) -> list[str]:
    overrides = [o for o in tiny_overrides(data, run_dir) if not o.startswith("output_dir")]
    return [sys.executable, str(ROOT / "src" / "train.py"), *overrides, f"hydra.run.dir={run_dir}", *args]


def _run_until(command: list[str], line_start: str, sig: int) -> tuple[int, str]:
    """Start a training process, send `sig` once it prints a line starting with `line_start`."""
    process = Process(command)
    process.wait_for_line(line_start)
    process.send_signal(sig)
    return process.finish()


def _status(run_dir: Path) -> dict:
    return json.loads((run_dir / "status.json").read_text())


@pytest.mark.slow
def test_diverging_run_stops_at_once_with_where_and_a_hint(fake_data: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = run(_cli(fake_data, run_dir, "model.optimizer.lr=1e6"))
    assert result.returncode == 2
    assert "error: training diverged: loss is " in result.stdout
    assert (
        "at epoch 1, update " in result.stdout
        and "lower the learning rate (model.optimizer.lr=1000000.0)" in result.stdout
    )
    assert "epoch 1, loss" not in result.stdout, "it stops within the first epoch"
    assert _status(run_dir)["status"] == "diverged"
    assert not (run_dir / "metrics.json").exists()


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_and_exits_nonzero(slow_data: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    code, output = _run_until(_cli(slow_data, run_dir, "trainer.max_epochs=6"), "epoch 1,", signal.SIGTERM)
    assert code == 143
    assert f"interrupted; continue with: python src/resume.py {run_dir}" in output
    assert _status(run_dir)["status"] == "interrupted"
    interrupted = torch.load(run_dir / "checkpoints" / "interrupted.ckpt", weights_only=True)
    last = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert interrupted["global_step"] >= last["global_step"] > 0 and "state_dict" in interrupted
    assert not (run_dir / "metrics.json").exists()


@pytest.mark.slow
def test_kill_9_leaves_the_last_completed_epochs_checkpoint_intact(slow_data: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    code, _ = _run_until(_cli(slow_data, run_dir, "trainer.max_epochs=6"), "epoch 3,", signal.SIGKILL)
    assert code == -signal.SIGKILL
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["epoch"] >= 1 and "state_dict" in checkpoint, "epoch 2 at least was saved whole"
    # A save cut short by the kill may leave its hidden temporary file (a resume clears it); never a bad last.ckpt.
    assert {p.name for p in (run_dir / "checkpoints").glob("*.ckpt")} <= {"best.ckpt", "last.ckpt"}
    assert not (run_dir / "metrics.json").exists()


@pytest.mark.slow
def test_resumed_run_ends_exactly_like_an_uninterrupted_one(slow_data: Path, tmp_path: Path) -> None:
    interrupted, straight = tmp_path / "interrupted", tmp_path / "straight"
    code, _ = _run_until(_cli(slow_data, interrupted, "trainer.max_epochs=4"), "epoch 2,", signal.SIGTERM)
    assert code == 143
    resumed = script("resume.py", interrupted)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    run(_cli(slow_data, straight, "trainer.max_epochs=4"), check=True)

    finals = [json.loads((d / "metrics.json").read_text()) for d in (interrupted, straight)]
    untimed = [{k: v for k, v in final.items() if not k.startswith("time/")} for final in finals]
    assert untimed[0] == untimed[1] and "acc/test" in untimed[0]
    assert _status(interrupted)["status"] == "completed"
    assert len(list((interrupted / "tensorboard").glob("events.out.tfevents.*"))) >= 2, "one TensorBoard run, resumed"
    log = (interrupted / "train.log").read_text()
    assert log.count("epoch 4, loss") == 1 and "resuming" in log


def test_resume_refuses_a_completed_run_and_a_damaged_checkpoint(
    run_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = main_of("resume.py", run_copy, capsys=capsys)
    assert code == 2 and "has completed its 2 epochs; to train it for longer" in err
    (run_copy / "status.json").unlink()
    last = run_copy / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[:1000])
    code, _, err = main_of("resume.py", run_copy, capsys=capsys)
    assert code == 2
    assert f"error: checkpoint {last} is truncated, damaged or not a checkpoint" in err


def test_eval_reproduces_the_recorded_test_accuracy_and_writes_its_tables(
    run_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = main_of("eval.py", run_copy, capsys=capsys)
    assert code == 0, err
    recorded = json.loads((run_copy / "metrics.json").read_text())["acc/test"]
    printed = float(out.split("test acc ")[1].split()[0])
    assert abs(printed - recorded) < 1e-4
    out = run_copy / "eval" / "last"
    matrix = [line.split(",")[1:] for line in (out / "confusion_matrix.csv").read_text().splitlines()[1:]]
    assert len(matrix) == 10 and sum(int(v) for row in matrix for v in row) == 300
    assert "| ankle boot |" in (out / "per_class_accuracy.md").read_text()
    assert (out / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"


def test_eval_on_test_files_other_than_the_runs_says_so_and_still_evaluates(
    run_copy: Path, fake_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    moved = Path(shutil.copytree(fake_data, tmp_path / "moved"))
    other = make_fake_fashion_mnist(tmp_path / "other", n_train=100)  # other test labels: the draws differ
    shutil.copy(other / "t10k-labels-idx1-ubyte.gz", moved / "t10k-labels-idx1-ubyte.gz")  # replaced in place
    config = yaml.safe_load((run_copy / "config.yaml").read_text())
    config["data"]["data_dir"] = str(moved)
    (run_copy / "config.yaml").write_text(yaml.safe_dump(config))
    code, out, err = main_of("eval.py", run_copy, capsys=capsys)
    assert code == 0, err
    assert err.startswith(f"warning: {moved}/t10k-labels-idx1-ubyte.gz is not the file the run was tested on"), err
    assert "t10k-images" not in err, "the unchanged file is not named"
    assert "test acc " in out
    shutil.copy(fake_data / "t10k-labels-idx1-ubyte.gz", moved / "t10k-labels-idx1-ubyte.gz")  # restored
    # Other training images (bright, flat): the test images still get the scaling the model was trained with.
    train_images = moved / "train-images-idx3-ubyte.gz"
    write_idx(train_images, read_idx(train_images, ndim=3) // 8 + 200)
    code, out, err = main_of("eval.py", run_copy, capsys=capsys)
    assert code == 0 and "warning" not in err, err
    recorded = json.loads((run_copy / "metrics.json").read_text())["acc/test"]
    assert abs(float(out.split("test acc ")[1].split()[0]) - recorded) < 1e-4


def test_predict_names_the_class_and_top3_of_each_image(
    trained_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = make_fake_fashion_mnist(tmp_path / "imgs", n_train=10, n_test=10)
    images = read_idx(folder / (FILES["test_images"] + ".gz"), ndim=3)
    labels = read_idx(folder / (FILES["test_labels"] + ".gz"), ndim=1)
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"img{i}.png")
        write_png(images[i][None], str(paths[-1]))
    code, out, err = main_of("predict.py", trained_run, *paths, capsys=capsys)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 3
    classes = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot")
    correct = sum(f": {classes[int(label)]}  (" in line for line, label in zip(lines, labels[:3], strict=True))
    assert correct >= 2, lines
    for line in lines:
        probabilities = [float(part.rsplit(" ", 1)[1]) for part in line.split("(")[1].rstrip(")").split(", ")]
        assert len(probabilities) == 3 and probabilities == sorted(probabilities, reverse=True)


@pytest.mark.slow
def test_predict_refuses_an_image_of_the_wrong_size(trained_run: Path, tmp_path: Path) -> None:
    write_png(torch.zeros(1, 32, 32, dtype=torch.uint8), str(tmp_path / "big.png"))
    result = script("predict.py", trained_run, tmp_path / "big.png")
    assert result.returncode == 1 and "is 32x32 pixels; the model takes 28x28 grayscale images" in result.stderr


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (
            lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),
            "is truncated, damaged or not a checkpoint",
        ),
        (lambda p: torch.save({"weights": torch.zeros(3)}, p), "holds no model weights (no 'state_dict')"),
        (lambda p: p.write_bytes(b"not a checkpoint at all"), "is truncated, damaged or not a checkpoint"),
        (lambda p: torch.save({"state_dict": {}, "hook": print}, p), "holds objects other than tensors and plain"),
    ],
)
def test_eval_of_a_damaged_or_foreign_checkpoint_is_one_clear_line(
    run_copy: Path, capsys: pytest.CaptureFixture[str], damage, message: str
) -> None:
    damaged = run_copy / "checkpoints" / "damaged.ckpt"
    damaged.write_bytes((run_copy / "checkpoints" / "last.ckpt").read_bytes())
    damage(damaged)
    code, _, err = main_of("eval.py", damaged, capsys=capsys)
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert not (run_copy / "eval").exists(), "no empty folder is left behind"


@pytest.mark.slow
def test_eval_of_a_folder_without_its_config_says_so(tmp_path: Path) -> None:
    (tmp_path / "checkpoints").mkdir()
    result = script("eval.py", tmp_path)
    assert result.returncode == 2
    assert f"error: {tmp_path}/config.yaml is missing; is {tmp_path} a run folder" in result.stderr


def test_missing_data_dir_is_refused_before_any_folder_is_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    code, _, err = command_line_answer(_cli(tmp_path / "nowhere", run_dir)[2:], capsys)
    assert code == 2
    assert err.startswith(f"error: data.data_dir={tmp_path / 'nowhere'} is not allowed: no such folder")
    assert not run_dir.exists(), "refused before any folder is made"


@pytest.mark.slow
def test_two_runs_started_together_get_two_folders(fake_data: Path, tmp_path: Path) -> None:
    overrides = [o for o in tiny_overrides(fake_data, tmp_path) if not o.startswith("output_dir")]
    command = [
        sys.executable,
        str(ROOT / "src" / "train.py"),
        *overrides,
        "trainer.max_epochs=1",
        f"outputs={tmp_path / 'outputs'}",
    ]
    runs = [Process(command, cwd=tmp_path) for _ in "ab"]
    assert [p.finish()[0] for p in runs] == [0, 0]
    folders = list((tmp_path / "outputs" / "runs").iterdir())
    assert len(folders) == 2 and all((f / "metrics.json").is_file() for f in folders)


class _RunsCode:
    def __reduce__(self):  # unpickling calls os.system: what a hostile checkpoint would do
        import os

        return (os.system, ("touch /tmp/mlplab-should-never-exist",))


def test_a_checkpoint_that_would_run_code_is_refused_saying_so(
    run_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile = run_copy / "checkpoints" / "hostile.ckpt"
    torch.save({"state_dict": {}, "payload": _RunsCode()}, hostile)
    code, _, err = main_of("eval.py", hostile, capsys=capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert "holds objects other than tensors and plain data (posix.system): loading it would run code" in err
    assert not Path("/tmp/mlplab-should-never-exist").exists()


def test_a_mistyped_budget_on_resume_is_answered_with_the_key_that_works(
    run_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = main_of("resume.py", run_copy, "trainer.max_epoch=3", capsys=capsys)
    assert code == 2
    assert err == (
        "error: trainer.max_epoch=3 cannot be changed on resume; did you mean trainer.max_epochs=3? "
        "only trainer.max_epochs=<n> can\n"
    )
