"""Nothing lost: checkpoints, run folders and resumes under real faults (another filesystem, kill -9, a full disk)."""

import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
import yaml

from conftest import ROOT, make_fake_fashion_mnist, tiny_overrides
from mlplab.status import read_status

TRAIN, RESUME, EVAL = (str(ROOT / "src" / name) for name in ("train.py", "resume.py", "eval.py"))
# Wide layers make checkpoints of about 7 MB: a save takes long enough to be caught in the middle.
BIG = "model.hidden=[1024,1024]"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Enough synthetic images for epochs that last a moment."""
    return make_fake_fashion_mnist(tmp_path_factory.mktemp("data"), n_train=1500, n_test=300)


@pytest.fixture(scope="module")
def finished(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A completed 1-epoch run; tests work on copies of it, which also shows a moved folder still works."""
    run_dir = tmp_path_factory.mktemp("finished") / "run"
    subprocess.run(_train(data, run_dir, "trainer.max_epochs=1"), check=True, capture_output=True)
    return run_dir


def _copy(run_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(run_dir, tmp_path / "run"))


def _train(data: Path, run_dir: Path, *args: str) -> list[str]:
    overrides = [o for o in tiny_overrides(data, run_dir) if not o.startswith("output_dir")]
    return [sys.executable, TRAIN, *overrides, f"hydra.run.dir={run_dir}", *args]


def _start(command: list[str], **kwargs) -> subprocess.Popen:
    env = os.environ | {"PYTHONUNBUFFERED": "1"} | kwargs.pop("env", {})
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, **kwargs)


def _wait_for_line(process: subprocess.Popen, start: str) -> list[str]:
    seen = []
    for line in process.stdout:
        seen.append(line)
        if line.startswith(start):
            return seen
    raise AssertionError(f"the process ended before printing {start!r}:\n{''.join(seen)[-3000:]}")


def _wait_for_checkpoint(run_dir: Path) -> None:
    """Until last.ckpt exists (the first epoch's, whole: it appears by a rename)."""
    while not (run_dir / "checkpoints" / "last.ckpt").exists():
        time.sleep(0.01)


def _loads(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def test_checkpoints_are_never_half_written_with_tmpdir_on_another_filesystem(data: Path, tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs /dev/shm on a filesystem other than the test's temporary folder")
    tmpdir = Path(shm / f"mlplab-test-{os.getpid()}")
    tmpdir.mkdir()
    run_dir = tmp_path / "run"
    last = run_dir / "checkpoints" / "last.ckpt"
    seen_loads, failures, biggest_in_tmpdir = [0], [], [0]
    done = threading.Event()

    def watch() -> None:  # load last.ckpt over and over while the run rewrites it every epoch
        while not done.is_set():
            files = [p for p in tmpdir.rglob("*") if p.is_file()]
            biggest_in_tmpdir[0] = max([biggest_in_tmpdir[0], *(p.stat().st_size for p in files)])
            if last.exists():
                try:
                    assert "state_dict" in _loads(last)
                    seen_loads[0] += 1
                except Exception as err:  # noqa: BLE001 - any failure to load is what this test looks for
                    failures.append(f"{type(err).__name__}: {err}")

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = subprocess.run(
            _train(data, run_dir, BIG, "trainer.max_epochs=4", "data.val_size=0"),
            capture_output=True,
            text=True,
            env=os.environ | {"TMPDIR": str(tmpdir)},
        )
    finally:
        done.set()
        watcher.join()
        shutil.rmtree(tmpdir)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert seen_loads[0] > 5, "the watcher loaded last.ckpt while the run saved it"
    assert failures == [], failures[:3]
    assert biggest_in_tmpdir[0] < 1_000_000, "nothing checkpoint-sized is written to TMPDIR"
    assert _loads(last)["epoch"] == 3
    assert not list((run_dir / "checkpoints").glob(".*")), "no temporary files left beside the checkpoints"


def test_kill_9_at_random_moments_always_leaves_a_last_ckpt_that_loads(data: Path, tmp_path: Path) -> None:
    rng = random.Random(0)
    for attempt in range(3):
        run_dir = tmp_path / f"run{attempt}"
        process = _start(_train(data, run_dir, BIG, "trainer.max_epochs=20", "data.val_size=0"))
        _wait_for_line(process, "epoch 1,")
        time.sleep(rng.uniform(0.0, 2.0))  # anywhere in the epochs and saves that follow
        process.kill()
        process.wait(timeout=60)
        checkpoint = _loads(run_dir / "checkpoints" / "last.ckpt")
        assert checkpoint["epoch"] >= 0 and "state_dict" in checkpoint
        assert read_status(run_dir)["status"] == "died", "a killed run never reads as running"
    # A resume clears what a killed save left behind and goes on from the intact checkpoint.
    budget = f"trainer.max_epochs={checkpoint['epoch'] + 2}"
    resumed = subprocess.run([sys.executable, RESUME, str(run_dir), budget], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert not list((run_dir / "checkpoints").glob(".*.tmp"))
    assert read_status(run_dir)["status"] == "completed"


def test_a_full_disk_keeps_the_previous_checkpoint_and_says_so_in_one_line(finished: Path, tmp_path: Path) -> None:
    run_dir = _copy(finished, tmp_path)
    last = run_dir / "checkpoints" / "last.ckpt"
    before = last.read_bytes()
    limit = len(before) // 2  # checkpoints can no longer be written whole; small files still can

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = subprocess.run(
        [sys.executable, RESUME, str(run_dir), "trainer.max_epochs=3"],
        capture_output=True,
        text=True,
        preexec_fn=limit_file_size,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 1, out[-2000:]
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "cannot write checkpoint" in errors[0] and "ulimit -f" in errors[0], out[-2000:]
    assert "Traceback" not in out
    assert last.read_bytes() == before and _loads(last)["epoch"] == 0, "the previous checkpoint is intact"
    assert read_status(run_dir)["status"] == "failed"
    assert not list((run_dir / "checkpoints").glob(".*.tmp")), "the partial file is removed"


def test_a_read_only_output_folder_is_refused_before_any_work(data: Path, tmp_path: Path) -> None:
    mount = tmp_path / "read-only"
    mount.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(mount)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here (needs root): {mounted.stderr.decode().strip()}")
    try:
        result = subprocess.run(_train(data, mount / "run"), capture_output=True, text=True)
    finally:
        subprocess.run(["umount", str(mount)], check=True)
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == f"error: cannot write to {mount}: the filesystem is read-only; give a writable hydra.run.dir"
    )
    assert result.stdout == ""


def test_a_second_run_in_a_used_folder_is_refused_and_the_first_kept(
    data: Path, finished: Path, tmp_path: Path
) -> None:
    run_dir = _copy(finished, tmp_path)
    before = {
        p.name: p.read_bytes() for p in (run_dir / "config.yaml", run_dir / "metrics.json", run_dir / "status.json")
    }
    hydra_config = (run_dir / ".hydra" / "config.yaml").read_bytes()
    result = subprocess.run(
        _train(data, run_dir, "trainer.max_epochs=1", "model=concise"), capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: {run_dir} already holds a run; continue it with `python src/resume.py {run_dir}`, or leave "
        "hydra.run.dir out to start a new run in a folder of its own"
    )
    assert {name: (run_dir / name).read_bytes() for name in before} == before
    assert (run_dir / ".hydra" / "config.yaml").read_bytes() == hydra_config
    assert {p.name for p in (run_dir / "checkpoints").iterdir()} == {"best.ckpt", "last.ckpt"}


def test_a_live_run_holds_its_folder_against_a_resume(data: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    process = _start(_train(data, run_dir, "trainer.max_epochs=2000"))  # still running when the resume asks
    _wait_for_line(process, "run folder:")  # the folder is held from here on, checkpoint or not
    second = subprocess.run([sys.executable, RESUME, str(run_dir)], capture_output=True, text=True)
    assert read_status(run_dir)["status"] == "running"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 143
    assert second.returncode == 2
    assert f"error: {run_dir} is in use by pid {process.pid} on " in second.stderr
    assert read_status(run_dir)["status"] == "interrupted" and read_status(run_dir)["signal"] == "SIGTERM"


def test_resume_exits_like_train_on_sigterm_and_ctrl_c(data: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    process = _start(_train(data, run_dir, "trainer.max_epochs=30"))
    _wait_for_checkpoint(run_dir)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 130
    assert read_status(run_dir)["signal"] == "SIGINT", "Ctrl-C recorded as such, not as an error"
    for sig, code in ((signal.SIGTERM, 143), (signal.SIGINT, 130)):
        resumed = _start([sys.executable, RESUME, str(run_dir)])
        seen = _wait_for_line(resumed, "epoch ")
        resumed.send_signal(sig)
        rest = resumed.stdout.read()
        assert resumed.wait(timeout=60) == code, "".join(seen) + rest
        assert f"interrupted; continue with: python src/resume.py {run_dir}" in rest
        assert read_status(run_dir)["status"] == "interrupted"


def test_ctrl_c_before_the_first_checkpoint_says_there_is_nothing_to_resume(data: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    process = _start(_train(data, run_dir, BIG))
    _wait_for_line(process, "run folder:")
    process.send_signal(signal.SIGINT)
    rest = process.stdout.read()
    assert process.wait(timeout=60) == 130
    assert "no checkpoint, nothing to resume" in rest
    result = subprocess.run([sys.executable, RESUME, str(run_dir)], capture_output=True, text=True)
    assert (
        result.returncode == 2
        and "stopped before its first epoch ended, so there is nothing to resume" in result.stderr
    )


def test_a_finished_run_is_extended_in_its_own_folder(finished: Path, tmp_path: Path) -> None:
    run_dir = finished
    again = subprocess.run([sys.executable, RESUME, str(run_dir)], capture_output=True, text=True)
    assert again.returncode == 2
    assert again.stderr.strip().endswith(f"give a larger budget: python src/resume.py {run_dir} trainer.max_epochs=6")

    moved = tmp_path / "moved"  # a copied or moved folder resumes where it is now
    shutil.copytree(run_dir, moved)
    extended = subprocess.run(
        [sys.executable, RESUME, str(moved), "trainer.max_epochs=2"], capture_output=True, text=True
    )
    assert extended.returncode == 0, extended.stderr[-2000:]
    assert {p.name for p in (moved / "checkpoints").iterdir()} == {"best.ckpt", "last.ckpt"}, "no -v1 copies"
    assert _loads(moved / "checkpoints" / "last.ckpt")["epoch"] == 1
    metrics = json.loads((moved / "metrics.json").read_text())
    assert {"acc/train", "loss/train", "acc/val", "loss/val", "acc/test", "loss/test"} <= set(metrics)
    evaluated = subprocess.run([sys.executable, EVAL, str(moved)], capture_output=True, text=True)
    printed = float(evaluated.stdout.split("test acc ")[1].split()[0])
    assert abs(printed - metrics["acc/test"]) < 1e-4
    first, both = read_status(run_dir), read_status(moved)
    assert both["status"] == "completed"
    assert both["started"] == first["started"] and both["wall_s"] > first["wall_s"], "the record spans both attempts"
    assert (run_dir / "metrics.json").read_text() != (moved / "metrics.json").read_text(), "the original is untouched"


def test_a_resume_of_a_run_killed_before_its_test_writes_complete_metrics(data: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    big_test = make_fake_fashion_mnist(tmp_path / "big-test", n_train=2000, n_test=60000)
    process = _start(_train(big_test, run_dir, "trainer.max_epochs=1", "model.hidden=[1024]"))
    _wait_for_line(process, "epoch 1,")
    _wait_for_checkpoint(run_dir)  # the test pass over 60k images follows
    process.kill()
    process.wait(timeout=60)
    assert not (run_dir / "metrics.json").exists()
    result = subprocess.run([sys.executable, RESUME, str(run_dir)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert {"acc/train", "loss/train", "acc/val", "loss/val", "acc/test", "loss/test"} <= set(metrics)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["data"].update(batch_size=0), "data.batch_size=0 is not allowed: it must be a positive integer"),
        (lambda c: c.update(hidden=128), "config.yaml sets hidden=128 but the run trained with 256x1"),
        (lambda c: c.update(lr=0.05), "config.yaml sets lr=0.05 but the run trained with chapter"),
        (lambda c: c["model"].update(activation="tanh"), "sets model.activation=tanh but the run trained with relu"),
    ],
)
def test_resume_checks_an_edited_config_and_refuses_changes(finished: Path, tmp_path: Path, edit, message: str) -> None:
    run_dir = _copy(finished, tmp_path)
    (run_dir / "status.json").write_text('{"status": "interrupted"}')  # as after a Ctrl-C at the epoch's end
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    edit(config)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [sys.executable, RESUME, str(run_dir), "trainer.max_epochs=2"], capture_output=True, text=True
    )
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_a_run_config_naming_a_foreign_target_is_refused_and_never_called(finished: Path, tmp_path: Path) -> None:
    run_dir = _copy(finished, tmp_path)
    victim = tmp_path / "written-by-the-config"
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    config["model"] = {"_target_": "os.makedirs", "name": str(victim)}
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config))
    for script, extra in ((EVAL, []), (RESUME, []), (str(ROOT / "src" / "predict.py"), [str(tmp_path / "x.png")])):
        result = subprocess.run([sys.executable, script, str(run_dir), *extra], capture_output=True, text=True)
        assert result.returncode == 2, result.stderr
        assert "model._target_=os.makedirs is not allowed" in result.stderr
    assert not victim.exists()


def test_readers_report_a_damaged_or_killed_folder_as_a_row_and_go_on(finished: Path, tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    for job in ("0_intact", "1_bad-status", "2_bad-config", "3_killed"):
        shutil.copytree(finished, sweep / job)
    (sweep / "1_bad-status" / "status.json").write_text('{"status": "comple')  # cut off mid-write
    (sweep / "2_bad-config" / "config.yaml").write_text("model: [unclosed\n")
    status = json.loads((sweep / "3_killed" / "status.json").read_text())
    (sweep / "3_killed" / "status.json").write_text(json.dumps(status | {"status": "running"}))  # as kill -9 left it

    result = subprocess.run(
        [sys.executable, str(ROOT / "src" / "summarize.py"), str(sweep)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    rows = {row["job"]: row for row in csv_rows(sweep / "summary.csv")}
    assert rows["0_intact"]["status"] == "completed" and rows["0_intact"]["val_acc"]
    assert rows["1_bad-status"]["status"] == "unknown" and "status.json cannot be read" in rows["1_bad-status"]["error"]
    assert (
        rows["2_bad-config"]["status"] == "unreadable" and "config.yaml cannot be read" in rows["2_bad-config"]["error"]
    )
    assert rows["3_killed"]["status"] == "died" and "ended without a word" in rows["3_killed"]["error"]

    plotted = subprocess.run(
        [sys.executable, str(ROOT / "src" / "plot_gradients.py"), str(sweep)], capture_output=True, text=True
    )
    assert plotted.returncode == 0, plotted.stderr[-2000:]
    assert "skipped" in plotted.stderr and "2_bad-config" in plotted.stderr
    assert (sweep / "gradient_norms.png").read_bytes()[:4] == b"\x89PNG"


def csv_rows(path: Path) -> list[dict[str, str]]:
    import csv

    with path.open() as handle:
        return list(csv.DictReader(handle))
