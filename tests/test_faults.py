"""Runs that survive: each fault provoked for real, then what the user sees and what is on disk."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torchvision.io import write_png

from conftest import ROOT, make_fake_fashion_mnist, tiny_overrides
from mlplab.data.idx import read_idx
from mlplab.data.locate import FILES


@pytest.fixture(scope="module")
def slow_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Enough synthetic images that an epoch lasts long enough to be interrupted in the middle of a run."""
    return make_fake_fashion_mnist(tmp_path_factory.mktemp("slow-data"), n_train=9000, n_test=500)


def _cli(data: Path, run_dir: Path, *args: str) -> list[str]:
    overrides = [o for o in tiny_overrides(data, run_dir) if not o.startswith("output_dir")]
    return [sys.executable, str(ROOT / "src" / "train.py"), *overrides, f"hydra.run.dir={run_dir}", *args]


def _script(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "src" / name), *map(str, args)], capture_output=True, text=True)


def _run_until(command: list[str], line_start: str, sig: int) -> tuple[int, str]:
    """Start a training process, send `sig` once it prints a line starting with `line_start`."""
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    seen = []
    for line in process.stdout:
        seen.append(line)
        if line.startswith(line_start):
            process.send_signal(sig)
    return process.wait(timeout=120), "".join(seen)


def _status(run_dir: Path) -> dict:
    return json.loads((run_dir / "status.json").read_text())


def test_diverging_run_stops_at_once_with_where_and_a_hint(fake_data: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = subprocess.run(_cli(fake_data, run_dir, "model.optimizer.lr=1e6"), capture_output=True, text=True)
    assert result.returncode == 2
    assert "error: training diverged: loss is " in result.stdout
    assert (
        "at epoch 1, update " in result.stdout
        and "lower the learning rate (model.optimizer.lr=1000000.0)" in result.stdout
    )
    assert "epoch 1, loss" not in result.stdout, "it stops within the first epoch"
    assert _status(run_dir)["status"] == "diverged"
    assert not (run_dir / "metrics.json").exists()


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


def test_kill_9_leaves_the_last_completed_epochs_checkpoint_intact(slow_data: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    code, _ = _run_until(_cli(slow_data, run_dir, "trainer.max_epochs=6"), "epoch 3,", signal.SIGKILL)
    assert code == -signal.SIGKILL
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["epoch"] >= 1 and "state_dict" in checkpoint, "epoch 2 at least was saved whole"
    assert not list((run_dir / "checkpoints").glob("*.tmp")) and not (run_dir / "metrics.json").exists()


def test_resumed_run_ends_exactly_like_an_uninterrupted_one(slow_data: Path, tmp_path: Path) -> None:
    interrupted, straight = tmp_path / "interrupted", tmp_path / "straight"
    code, _ = _run_until(_cli(slow_data, interrupted, "trainer.max_epochs=4"), "epoch 2,", signal.SIGTERM)
    assert code == 143
    resumed = _script("resume.py", interrupted)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    subprocess.run(_cli(slow_data, straight, "trainer.max_epochs=4"), check=True, capture_output=True)

    finals = [json.loads((d / "metrics.json").read_text()) for d in (interrupted, straight)]
    untimed = [{k: v for k, v in final.items() if not k.startswith("time/")} for final in finals]
    assert untimed[0] == untimed[1] and "acc/test" in untimed[0]
    assert _status(interrupted)["status"] == "completed"
    assert len(list((interrupted / "tensorboard").glob("events.out.tfevents.*"))) >= 2, "one TensorBoard run, resumed"
    log = (interrupted / "train.log").read_text()
    assert log.count("epoch 4, loss") == 1 and "resuming" in log


def test_resume_refuses_a_completed_run_and_a_damaged_checkpoint(fake_data: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    subprocess.run(_cli(fake_data, run_dir, "trainer.max_epochs=1"), check=True, capture_output=True)
    result = _script("resume.py", run_dir)
    assert result.returncode == 2 and "has completed its 1 epoch; to train it for longer" in result.stderr
    (run_dir / "status.json").unlink()
    last = run_dir / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[:1000])
    result = _script("resume.py", run_dir)
    assert result.returncode == 2
    assert f"error: checkpoint {last} is truncated, damaged or not a checkpoint" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = make_fake_fashion_mnist(tmp_path_factory.mktemp("eval-data"))
    run_dir = tmp_path_factory.mktemp("trained") / "run"
    subprocess.run(_cli(data, run_dir, "data.normalize=standard"), check=True, capture_output=True)
    return run_dir


def test_eval_reproduces_the_recorded_test_accuracy_and_writes_its_tables(trained_run: Path) -> None:
    result = _script("eval.py", trained_run)
    assert result.returncode == 0, result.stderr
    recorded = json.loads((trained_run / "metrics.json").read_text())["acc/test"]
    printed = float(result.stdout.split("test acc ")[1].split()[0])
    assert abs(printed - recorded) < 1e-4
    out = trained_run / "eval" / "last"
    matrix = [line.split(",")[1:] for line in (out / "confusion_matrix.csv").read_text().splitlines()[1:]]
    assert len(matrix) == 10 and sum(int(v) for row in matrix for v in row) == 300
    assert "| ankle boot |" in (out / "per_class_accuracy.md").read_text()
    assert (out / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"


def test_predict_names_the_class_and_top3_of_each_image(trained_run: Path, tmp_path: Path) -> None:
    folder = make_fake_fashion_mnist(tmp_path / "imgs", n_train=10, n_test=10)
    images = read_idx(folder / (FILES["test_images"] + ".gz"), ndim=3)
    labels = read_idx(folder / (FILES["test_labels"] + ".gz"), ndim=1)
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"img{i}.png")
        write_png(images[i][None], str(paths[-1]))
    result = _script("predict.py", trained_run, *paths)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3
    classes = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot")
    correct = sum(f": {classes[int(label)]}  (" in line for line, label in zip(lines, labels[:3], strict=True))
    assert correct >= 2, lines
    for line in lines:
        probabilities = [float(part.rsplit(" ", 1)[1]) for part in line.split("(")[1].rstrip(")").split(", ")]
        assert len(probabilities) == 3 and probabilities == sorted(probabilities, reverse=True)


def test_predict_refuses_an_image_of_the_wrong_size(trained_run: Path, tmp_path: Path) -> None:
    write_png(torch.zeros(1, 32, 32, dtype=torch.uint8), str(tmp_path / "big.png"))
    result = _script("predict.py", trained_run, tmp_path / "big.png")
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
def test_eval_of_a_damaged_or_foreign_checkpoint_is_one_clear_line(trained_run: Path, damage, message: str) -> None:
    damaged = trained_run / "checkpoints" / "damaged.ckpt"
    damaged.write_bytes((trained_run / "checkpoints" / "last.ckpt").read_bytes())
    damage(damaged)
    result = _script("eval.py", damaged)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    damaged.unlink()


def test_eval_of_a_folder_without_its_config_says_so(tmp_path: Path) -> None:
    (tmp_path / "checkpoints").mkdir()
    result = _script("eval.py", tmp_path)
    assert result.returncode == 2
    assert f"error: {tmp_path}/config.yaml is missing; is {tmp_path} a run folder" in result.stderr


def test_missing_data_dir_is_refused_before_any_folder_is_made(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = subprocess.run(_cli(tmp_path / "nowhere", run_dir), capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: data.data_dir={tmp_path / 'nowhere'} is not allowed: no such folder")
    assert not run_dir.exists(), "refused before any folder is made"


def test_two_runs_started_together_get_two_folders(fake_data: Path, tmp_path: Path) -> None:
    overrides = [o for o in tiny_overrides(fake_data, tmp_path) if not o.startswith("output_dir")]
    command = [
        sys.executable,
        str(ROOT / "src" / "train.py"),
        *overrides,
        "trainer.max_epochs=1",
        f"outputs={tmp_path / 'outputs'}",
    ]
    runs = [subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in "ab"]
    assert [p.wait(timeout=120) for p in runs] == [0, 0]
    folders = list((tmp_path / "outputs" / "runs").iterdir())
    assert len(folders) == 2 and all((f / "metrics.json").is_file() for f in folders)
