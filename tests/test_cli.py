"""`python src/train.py ...` as a user types it, in a subprocess, on synthetic data."""

import subprocess
import sys
from pathlib import Path

import yaml

from conftest import ROOT, tiny_overrides


def _run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "src" / "train.py"), *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def _overrides(fake_data: Path, run_dir: Path) -> list[str]:
    # output_dir stays Hydra's own run folder here, as for a user: only the folder's place is moved.
    return [o for o in tiny_overrides(fake_data, run_dir) if not o.startswith("output_dir")] + [
        f"hydra.run.dir={run_dir}"
    ]


def test_cli_model_scratch_activation_tanh_trains_and_fills_its_run_folder(fake_data: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = _run("model=scratch", "activation=tanh", *_overrides(fake_data, run_dir))
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout + result.stderr
    assert "epoch 1, loss " in out and "epoch 2, loss " in out and ", val acc " in out
    assert "test acc " in out
    assert "GPU available" in out and "Tip:" not in out, "Lightning's lines, without its advertisement"

    config = yaml.safe_load((run_dir / ".hydra" / "config.yaml").read_text())
    assert config["model"]["activation"] == "tanh" and config["model"]["_target_"] == "mlplab.models.ScratchMLP"
    log = (run_dir / "train.log").read_text()
    assert "epoch 2, loss" in log and "Trainer.fit" in log, "our lines and Lightning's both reach the run's log"
    assert "Tip:" not in log
    assert (run_dir / "checkpoints" / "best.ckpt").is_file() and (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    assert (run_dir / "metrics.json").is_file()


def test_cli_bad_value_prints_one_line_and_exits_2(fake_data: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = _run("model.optimizer.lr=-1", *_overrides(fake_data, run_dir))
    assert result.returncode == 2
    out = result.stdout + result.stderr
    assert "error: model.optimizer.lr=-1 is not allowed: the learning rate must be a number > 0\n" in out
    assert "Traceback" not in out
    assert not (run_dir / "metrics.json").exists() and not (run_dir / "checkpoints").exists()


def test_cli_unknown_group_option_lists_the_choices(fake_data: Path, tmp_path: Path) -> None:
    result = _run("activation=tahn", *_overrides(fake_data, tmp_path / "run"))
    assert result.returncode == 1
    assert "Could not find 'activation/tahn'" in result.stderr and "relu" in result.stderr
    assert not (tmp_path / "run").exists()
