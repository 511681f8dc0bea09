"""Several processes, one run: DDP on 2 CPU processes, DDP inside a sweep, submitit tasks as ranks."""

import csv
import json
import signal
import sys
from pathlib import Path

import pytest
import torch

import processes
from conftest import ROOT, make_fake_fashion_mnist, tiny_overrides

# Every test here starts two or more processes.
pytestmark = pytest.mark.slow

DDP = ["trainer=ddp", "threads=1", "data.batch_size=32"]


def _command(data: Path, *args: str) -> list[str]:
    overrides = [o for o in tiny_overrides(data, Path()) if not o.startswith(("output_dir", "data.batch_size"))]
    return [sys.executable, str(ROOT / "src" / "train.py"), *args, *overrides]


def test_two_process_ddp_run_shards_the_data_syncs_metrics_and_writes_one_set_of_files(
    fake_data: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    result = processes.run(_command(fake_data, *DDP, f"hydra.run.dir={run_dir}"), capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.count("epoch 2, loss") == 1, "only rank 0 prints the chapter's lines"
    log = (run_dir / "train.log").read_text()
    assert "GLOBAL_RANK: 0, MEMBER: 1/2" in log

    # 1000 training images, 500 per rank, batches of 32: 16 steps per epoch, not 32.
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["global_step"] == 2 * 16
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["best.ckpt", "last.ckpt"]
    assert len(list((run_dir / "tensorboard").glob("events.out.tfevents.*"))) >= 1
    assert json.loads((run_dir / "status.json").read_text())["status"] == "completed"

    # Each rank tested half of the 300 test images; the synced accuracy is that of all 300.
    recorded = json.loads((run_dir / "metrics.json").read_text())["acc/test"]
    evaluated = processes.run(
        [sys.executable, str(ROOT / "src" / "eval.py"), str(run_dir)], capture_output=True, text=True
    )
    assert evaluated.returncode == 0, evaluated.stderr
    matrix_total = sum(
        int(v) for row in (run_dir / "eval" / "last" / "confusion_matrix.csv").read_text().splitlines()[1:]
        for v in row.split(",")[1:]
    )  # fmt: skip
    assert matrix_total == 300
    assert abs(float(evaluated.stdout.split("test acc ")[1].split()[0]) - recorded) < 1e-4


def test_ddp_inside_a_local_sweep_is_refused_with_the_working_alternative(fake_data: Path, tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    result = processes.run(
        _command(fake_data, "-m", *DDP, "seed=1,2", f"hydra.sweep.dir={sweep}"), capture_output=True, text=True
    )
    assert result.returncode == 1, "no job completed"
    assert "trainer.devices=2 in a -m sweep is not allowed" in result.stdout
    assert "2 jobs did not complete" in result.stdout + result.stderr
    assert "hydra/launcher=submitit_slurm (or submitit_local)" in result.stdout
    with (sweep / "summary.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["status"] for r in rows] == ["failed", "failed"], "each job says so; no second sweep starts"
    assert [p.name[:2] for p in sorted(sweep.iterdir()) if p.is_dir()] == ["0_", "1_"]


def test_submitit_job_with_two_tasks_runs_as_two_ddp_ranks(fake_data: Path, tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    launcher = ["hydra/launcher=submitit_local", "hydra.launcher.tasks_per_node=2"]
    result = processes.run(
        _command(fake_data, "-m", *launcher, *DDP, "seed=3", f"hydra.sweep.dir={sweep}"),
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    (job,) = [p for p in sweep.iterdir() if p.is_dir() and not p.name.startswith(".")]
    log = (job / "train.log").read_text()
    assert "GLOBAL_RANK: 0, MEMBER: 1/2" in log and "GLOBAL_RANK: 1, MEMBER: 2/2" in log
    assert json.loads((job / "status.json").read_text())["status"] == "completed"
    assert torch.load(job / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 2 * 16


def test_interrupted_ddp_run_resumes_to_the_same_metrics_as_an_uninterrupted_one(tmp_path: Path) -> None:
    data = make_fake_fashion_mnist(tmp_path / "data", n_train=6000, n_test=300)
    interrupted, straight = tmp_path / "interrupted", tmp_path / "straight"
    command = _command(data, *DDP, "trainer.max_epochs=3", f"hydra.run.dir={interrupted}")
    process = processes.Process(command)
    process.wait_for_line("epoch 1,", timeout=300)
    process.send_signal(signal.SIGTERM)
    assert process.finish(timeout=300)[0] == 143
    resumed = processes.run(
        [sys.executable, str(ROOT / "src" / "resume.py"), str(interrupted)], capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    processes.run(
        _command(data, *DDP, "trainer.max_epochs=3", f"hydra.run.dir={straight}"), check=True, capture_output=True
    )

    finals = [json.loads((d / "metrics.json").read_text()) for d in (interrupted, straight)]
    untimed = [{k: v for k, v in final.items() if not k.startswith("time/")} for final in finals]
    assert untimed[0] == untimed[1] and "acc/test" in untimed[0]


def test_torchrun_is_refused_with_one_line_naming_the_supported_way(fake_data: Path, tmp_path: Path) -> None:
    torchrun = Path(sys.executable).parent / "torchrun"
    run_dir = tmp_path / "run"
    # --standalone: torchrun's rendezvous on a free port, not 29500, which a DDP test beside it may hold.
    script = _command(fake_data, *DDP, f"hydra.run.dir={run_dir}")[1:]
    command = [str(torchrun), "--standalone", "--nproc_per_node=2", *script]
    result = processes.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    ours = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert ours, result.stderr[-3000:]
    assert ours == ["error: torchrun is not supported; run `python src/train.py trainer=ddp trainer.devices=<n>` "
                    "(Lightning starts the processes), or on SLURM hydra.launcher.tasks_per_node=<n>"]  # fmt: skip
    assert not run_dir.exists(), "no run folder, from either process"
