"""Nothing lost: checkpoints, run folders and resumes under real faults (another filesystem, kill -9, a full disk).

Refusals of edited or foreign folders call the scripts in-process on a copy of the session's trained run;
the faults themselves need real processes and are slow tests.
"""

import errno
import json
import os
import random
import resource
import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
import yaml

from conftest import ROOT, make_fake_fashion_mnist, tiny_overrides
from mlplab.hparams_events import EXPERIMENT_FILE
from mlplab.status import read_status
from processes import Process, command_line_answer, main_of, run, wait_until, without_flock

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
    run(_train(data, run_dir, "trainer.max_epochs=1"), check=True)
    return run_dir


def _copy(run_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(run_dir, tmp_path / "run"))


def _train(data: Path, run_dir: Path, *args: str) -> list[str]:
    overrides = [o for o in tiny_overrides(data, run_dir) if not o.startswith("output_dir")]
    return [sys.executable, TRAIN, *overrides, f"hydra.run.dir={run_dir}", *args]


def _wait_for_checkpoint(run_dir: Path, process: Process) -> None:
    """Until last.ckpt exists (the first epoch's, whole: it appears by a rename)."""
    wait_until((run_dir / "checkpoints" / "last.ckpt").exists, "last.ckpt", process=process)


def _loads(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


@pytest.mark.slow
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
        while not done.wait(0.005):  # a pause between loads leaves the run its core
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
        result = run(
            _train(data, run_dir, BIG, "trainer.max_epochs=4", "data.val_size=0"),
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


@pytest.mark.slow
def test_kill_9_at_random_moments_always_leaves_a_last_ckpt_that_loads(data: Path, tmp_path: Path) -> None:
    rng = random.Random(0)
    for attempt in range(3):
        run_dir = tmp_path / f"run{attempt}"
        process = Process(_train(data, run_dir, BIG, "trainer.max_epochs=20", "data.val_size=0"))
        process.wait_for_line("epoch 1,")
        time.sleep(rng.uniform(0.0, 2.0))  # anywhere in the epochs and saves that follow
        process.kill()
        process.wait(timeout=60)
        checkpoint = _loads(run_dir / "checkpoints" / "last.ckpt")
        assert checkpoint["epoch"] >= 0 and "state_dict" in checkpoint
        assert read_status(run_dir)["status"] == "died", "a killed run never reads as running"
    # A resume clears what a killed save left behind and goes on from the intact checkpoint.
    budget = f"trainer.max_epochs={checkpoint['epoch'] + 2}"
    resumed = run([sys.executable, RESUME, str(run_dir), budget])
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert not list((run_dir / "checkpoints").glob(".*.tmp"))
    assert read_status(run_dir)["status"] == "completed"


@pytest.mark.slow
def test_a_full_disk_keeps_the_previous_checkpoint_and_says_so_in_one_line(finished: Path, tmp_path: Path) -> None:
    run_dir = _copy(finished, tmp_path)
    last = run_dir / "checkpoints" / "last.ckpt"
    before = last.read_bytes()
    limit = len(before) // 2  # checkpoints can no longer be written whole; small files still can

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = run([sys.executable, RESUME, str(run_dir), "trainer.max_epochs=3"], preexec_fn=limit_file_size)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out[-2000:]
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "cannot write checkpoint" in errors[0] and "ulimit -f" in errors[0], out[-2000:]
    assert "Traceback" not in out
    assert last.read_bytes() == before and _loads(last)["epoch"] == 0, "the previous checkpoint is intact"
    assert read_status(run_dir)["status"] == "failed"
    assert not list((run_dir / "checkpoints").glob(".*.tmp")), "the partial file is removed"


@pytest.mark.slow
def test_a_read_only_output_folder_is_refused_before_any_work(data: Path, tmp_path: Path) -> None:
    mount = tmp_path / "read-only"
    mount.mkdir()
    mounted = run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(mount)], timeout=30)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        result = run(_train(data, mount / "run"))
    finally:
        run(["umount", str(mount)], timeout=30, check=True)
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == f"error: cannot write to {mount}: the filesystem is read-only; give a writable hydra.run.dir"
    )
    assert result.stdout == ""


def test_a_second_run_in_a_used_folder_is_refused_and_the_first_kept(
    data: Path, run_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = run_copy
    before = {
        p.name: p.read_bytes() for p in (run_dir / "config.yaml", run_dir / "metrics.json", run_dir / "status.json")
    }
    hydra_config = (run_dir / ".hydra" / "config.yaml").read_bytes()
    code, _, err = command_line_answer(_train(data, run_dir, "trainer.max_epochs=1", "model=concise")[2:], capsys)
    assert code == 2
    assert err.strip() == (
        f"error: {run_dir} already holds a run; continue it with `python src/resume.py {run_dir}`, or leave "
        "hydra.run.dir out to start a new run in a folder of its own"
    )
    assert {name: (run_dir / name).read_bytes() for name in before} == before
    assert (run_dir / ".hydra" / "config.yaml").read_bytes() == hydra_config
    assert {p.name for p in (run_dir / "checkpoints").iterdir()} == {"best.ckpt", "last.ckpt"}


@pytest.mark.slow
def test_of_two_runs_started_at_once_in_one_folder_the_second_touches_nothing_of_the_first(
    data: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    models = ("scratch", "concise")
    first, second = (Process(_train(data, run_dir, "trainer.max_epochs=2000", f"model={m}")) for m in models)
    losers = [p for p in (first, second) if p.wait_for_exit_or_line("run folder:") is not None]
    assert len(losers) == 1, first.output() + second.output()
    loser = losers[0]
    winner, winning_model = (second, "concise") if loser is first else (first, "scratch")
    code, said = loser.finish(timeout=60)
    assert code == 2 and said.strip() == (
        f"error: {run_dir} is in use by pid {winner.pid} on {os.uname().nodename}; wait for it to end, or stop it first"
    ), said
    winner.send_signal(signal.SIGTERM)
    assert winner.finish(timeout=60)[0] == 143
    assert yaml.safe_load((run_dir / ".hydra" / "overrides.yaml").read_text())[-1] == f"model={winning_model}"
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["model"]["_target_"].endswith(
        "ScratchMLP" if winning_model == "scratch" else "ConciseMLP"
    )
    log = (run_dir / "train.log").read_text()
    assert "error" not in log and "interrupted" in log, log


@pytest.mark.slow
@pytest.mark.parametrize("error", [errno.ENOSYS, errno.ENOLCK], ids=["lustre-noflock", "nfs-without-lockd"])
def test_on_a_filesystem_without_locks_a_run_warns_once_and_trains_unlocked(
    data: Path, tmp_path: Path, error: int
) -> None:
    run_dir = tmp_path / "run"
    result = run(_train(data, run_dir, "trainer.max_epochs=2"), preexec_fn=without_flock(error))
    assert result.returncode == 0, result.stderr[-3000:]
    said = result.stdout + result.stderr
    warning = f"{run_dir}'s filesystem does not support file locks ({os.strerror(error)}); running without the lock"
    assert said.count(warning) == 1, said[-3000:]
    assert "Traceback" not in said
    assert read_status(run_dir)["status"] == "completed"
    assert json.loads((run_dir / "metrics.json").read_text())["epochs"] == 2
    again = run([sys.executable, RESUME, str(run_dir), "trainer.max_epochs=3"], preexec_fn=without_flock(error))
    assert again.returncode == 0 and (again.stdout + again.stderr).count(warning) == 1, again.stderr[-3000:]
    assert json.loads((run_dir / "metrics.json").read_text())["epochs"] == 3


@pytest.mark.slow
def test_a_live_run_holds_its_folder_against_a_resume(data: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    process = Process(_train(data, run_dir, "trainer.max_epochs=2000"))  # still running when the resume asks
    process.wait_for_line("run folder:")  # the folder is held from here on, checkpoint or not
    second = run([sys.executable, RESUME, str(run_dir)])
    assert read_status(run_dir)["status"] == "running"
    process.send_signal(signal.SIGTERM)
    assert process.finish(timeout=60)[0] == 143
    assert second.returncode == 2
    assert f"error: {run_dir} is in use by pid {process.pid} on " in second.stderr
    assert read_status(run_dir)["status"] == "interrupted" and read_status(run_dir)["signal"] == "SIGTERM"


@pytest.mark.slow
def test_resume_exits_like_train_on_sigterm_and_ctrl_c(data: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    # Epochs here last a few hundredths of a second: a budget no signal can miss, however busy the machine.
    process = Process(_train(data, run_dir, "trainer.max_epochs=5000"))
    _wait_for_checkpoint(run_dir, process)
    process.send_signal(signal.SIGINT)
    assert process.finish(timeout=60)[0] == 130
    assert read_status(run_dir)["signal"] == "SIGINT", "Ctrl-C recorded as such, not as an error"
    for sig, code in ((signal.SIGTERM, 143), (signal.SIGINT, 130)):
        resumed = Process([sys.executable, RESUME, str(run_dir)])
        resumed.wait_for_line("epoch ")
        resumed.send_signal(sig)
        exit_code, output = resumed.finish(timeout=60)
        assert exit_code == code, output
        assert f"interrupted; continue with: python src/resume.py {run_dir}" in output
        assert read_status(run_dir)["status"] == "interrupted"


@pytest.mark.slow
def test_ctrl_c_before_the_first_checkpoint_says_there_is_nothing_to_resume(data: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    process = Process(_train(data, run_dir, "model.hidden=[4096,4096]"))  # a first epoch of seconds
    process.wait_for_line("run folder:")
    process.send_signal(signal.SIGINT)
    code, output = process.finish(timeout=60)
    assert code == 130
    assert "no checkpoint, nothing to resume" in output
    result = run([sys.executable, RESUME, str(run_dir)])
    assert (
        result.returncode == 2
        and "stopped before its first epoch ended, so there is nothing to resume" in result.stderr
    )


@pytest.mark.slow
def test_a_double_ctrl_c_is_one_interruption_with_no_traceback(data: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    process = Process(_train(data, run_dir, "trainer.max_epochs=2000"))
    _wait_for_checkpoint(run_dir, process)
    process.send_signal(signal.SIGINT)
    time.sleep(0.02)  # as a hand pressing Ctrl-C twice does
    process.send_signal(signal.SIGINT)
    code, output = process.finish(timeout=60)
    assert code == 130 and "Traceback" not in output, output[-3000:]
    assert output.count(f"interrupted; continue with: python src/resume.py {run_dir}") == 1, output[-3000:]
    assert read_status(run_dir)["status"] == "interrupted" and read_status(run_dir)["signal"] == "SIGINT"


@pytest.mark.slow
@pytest.mark.parametrize(("stop", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["ctrl-c", "sigterm"])
def test_a_signal_while_the_run_starts_up_is_one_line(data: Path, tmp_path: Path, stop: int, code: int) -> None:
    """Between the command line's check and the job (Hydra's start, torch's and Lightning's imports: seconds)."""
    run_dir = tmp_path / "run"
    process = Process(_train(data, run_dir))
    wait_until((run_dir / ".lock").exists, "the folder claimed", process=process)  # checked; imports follow
    process.send_signal(stop)
    exit_code, output = process.finish(timeout=60)
    assert exit_code == code and "Traceback" not in output, output[-3000:]
    name = signal.Signals(stop).name
    assert output.strip().splitlines()[-1] == (
        f"interrupted ({name}) before training started: nothing was training, so there is nothing to resume"
    ), output[-3000:]
    again = run(_train(data, run_dir, "trainer.max_epochs=1"))  # the folder holds no run: a new one may use it
    assert again.returncode == 0, again.stderr[-3000:]


@pytest.mark.slow
def test_sigterm_before_training_starts_is_recorded_as_an_interruption(tmp_path: Path) -> None:
    """SIGTERM while the data loads, before Lightning's handler is in place: the real Fashion-MNIST's second."""
    run_dir = tmp_path / "run"
    process = Process([sys.executable, TRAIN, f"hydra.run.dir={run_dir}", "trainer.max_epochs=1"])
    process.wait_for_line("run folder:")  # logged before the trainer is built and the data read
    process.send_signal(signal.SIGTERM)
    code, output = process.finish(timeout=60)
    assert code == 143 and "Traceback" not in output, output[-3000:]
    assert "interrupted before the first epoch ended: no checkpoint, nothing to resume" in output
    assert read_status(run_dir) | {"started": None} == read_status(run_dir) | {
        "status": "interrupted",
        "signal": "SIGTERM",
        "started": None,
    }


@pytest.mark.slow
def test_a_finished_run_is_extended_in_its_own_folder(finished: Path, tmp_path: Path) -> None:
    run_dir = finished
    again = run([sys.executable, RESUME, str(run_dir)])
    assert again.returncode == 2
    assert again.stderr.strip().endswith(f"give a larger budget: python src/resume.py {run_dir} trainer.max_epochs=6")

    moved = tmp_path / "moved"  # a copied or moved folder resumes where it is now
    shutil.copytree(run_dir, moved)
    extended = run([sys.executable, RESUME, str(moved), "trainer.max_epochs=2"])
    assert extended.returncode == 0, extended.stderr[-2000:]
    assert {p.name for p in (moved / "checkpoints").iterdir()} == {"best.ckpt", "last.ckpt"}, "no -v1 copies"
    assert _loads(moved / "checkpoints" / "last.ckpt")["epoch"] == 1
    metrics = json.loads((moved / "metrics.json").read_text())
    assert {"acc/train", "loss/train", "acc/val", "loss/val", "acc/test", "loss/test"} <= set(metrics)
    evaluated = run([sys.executable, EVAL, str(moved)])
    printed = float(evaluated.stdout.split("test acc ")[1].split()[0])
    assert abs(printed - metrics["acc/test"]) < 1e-4
    first, both = read_status(run_dir), read_status(moved)
    assert both["status"] == "completed"
    assert both["started"] == first["started"] and both["wall_s"] > first["wall_s"], "the record spans both attempts"
    assert (run_dir / "metrics.json").read_text() != (moved / "metrics.json").read_text(), "the original is untouched"


@pytest.mark.slow
def test_a_resume_of_a_run_killed_before_its_test_writes_complete_metrics(data: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    big_test = make_fake_fashion_mnist(tmp_path / "big-test", n_train=2000, n_test=60000)
    process = Process(_train(big_test, run_dir, "trainer.max_epochs=1", "model.hidden=[1024]"))
    process.wait_for_line("epoch 1,")
    _wait_for_checkpoint(run_dir, process)  # the test pass over 60k images follows
    process.kill()
    process.finish(timeout=60)
    assert not (run_dir / "metrics.json").exists()
    result = run([sys.executable, RESUME, str(run_dir)])
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
        (
            lambda c: c["trainer"].update(limit_train_batches=2),
            "sets trainer.limit_train_batches=2 but the run trained with None",
        ),
    ],
)
def test_resume_checks_an_edited_config_and_refuses_changes(
    run_copy: Path, capsys: pytest.CaptureFixture[str], edit, message: str
) -> None:
    run_dir = run_copy
    (run_dir / "status.json").write_text('{"status": "interrupted"}')  # as after a Ctrl-C at the epoch's end
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    edit(config)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config))
    code, _, err = main_of("resume.py", run_dir, "trainer.max_epochs=3", capsys=capsys)
    assert code == 2 and message in err and err.count("\n") == 1, err


def test_resume_reads_the_data_the_run_trained_on_or_refuses_and_data_json_stays(
    run_copy: Path, fake_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = run_copy
    (run_dir / "status.json").write_text('{"status": "interrupted"}')
    recorded = (run_dir / "data.json").read_bytes()
    config = yaml.safe_load((run_dir / "config.yaml").read_text())

    def point_at(data_dir: Path) -> None:
        (run_dir / "config.yaml").write_text(
            yaml.safe_dump(config | {"data": config["data"] | {"data_dir": str(data_dir)}})
        )

    other = make_fake_fashion_mnist(tmp_path / "other", n_train=1300)  # another data set, in the same format
    point_at(other)
    code, _, err = main_of("resume.py", run_dir, "trainer.max_epochs=3", capsys=capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"error: {other}/") and "is not the file the run trained on (" in err, err

    moved = Path(shutil.copytree(fake_data, tmp_path / "moved"))  # the same bytes elsewhere: a moved data set
    point_at(moved)
    shutil.copy(other / "t10k-labels-idx1-ubyte.gz", moved / "t10k-labels-idx1-ubyte.gz")  # replaced in place
    code, _, err = main_of("resume.py", run_dir, "trainer.max_epochs=3", capsys=capsys)
    assert code == 2 and "t10k-labels-idx1-ubyte.gz is not the file the run trained on (test_labels" in err, err
    assert (run_dir / "data.json").read_bytes() == recorded

    shutil.copy(fake_data / "t10k-labels-idx1-ubyte.gz", moved / "t10k-labels-idx1-ubyte.gz")  # restored
    code, _, err = main_of("resume.py", run_dir, "trainer.max_epochs=3", capsys=capsys)
    assert code == 0, err[-2000:]
    assert json.loads((run_dir / "metrics.json").read_text())["epochs"] == 3
    assert (run_dir / "data.json").read_bytes() == recorded  # the record of what every epoch read


@pytest.mark.parametrize(
    ("key", "build"),
    [
        ("model", lambda victim: {"_target_": "os.makedirs", "name": str(victim)}),
        # Reached through a module mlplab imports: a prefix check would let it by, the exact check does not.
        ("model", lambda victim: {"_target_": "mlplab.checkpoints.torch.save", "obj": 1, "f": str(victim)}),
        ("data", lambda victim: {"_target_": "mlplab.data.Path.mkdir", "self": str(victim)}),
        ("trainer", lambda victim: {"_target_": "pytorch_lightning.callbacks.os.makedirs", "name": str(victim)}),
    ],
)
def test_a_run_config_naming_a_foreign_target_is_refused_and_never_called(
    run_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str, build
) -> None:
    run_dir = run_copy
    victim = tmp_path / "written-by-the-config"
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    config[key] = build(victim)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config))
    target = config[key]["_target_"]
    for script, extra in (("eval.py", []), ("resume.py", []), ("predict.py", [tmp_path / "x.png"])):
        code, _, err = main_of(script, run_dir, *extra, capsys=capsys)
        assert code == 2, err
        assert f"{key}._target_={target} is not allowed" in err and err.count("\n") == 1, err
    assert not victim.exists()


def test_readers_report_a_damaged_or_killed_folder_as_a_row_and_go_on(
    trained_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    sweep = tmp_path / "sweep"
    for job in ("0_intact", "1_bad-status", "2_bad-config", "3_killed"):
        shutil.copytree(trained_run, sweep / job)
    (sweep / "1_bad-status" / "status.json").write_text('{"status": "comple')  # cut off mid-write
    (sweep / "2_bad-config" / "config.yaml").write_text("model: [unclosed\n")
    status = json.loads((sweep / "3_killed" / "status.json").read_text())
    (sweep / "3_killed" / "status.json").write_text(json.dumps(status | {"status": "running"}))  # as kill -9 left it

    code, _, err = main_of("summarize.py", sweep, capsys=capsys)
    assert code == 0, err[-2000:]
    rows = {row["job"]: row for row in csv_rows(sweep / "summary.csv")}
    assert rows["0_intact"]["status"] == "completed" and rows["0_intact"]["val_acc"]
    assert rows["1_bad-status"]["status"] == "unknown" and "status.json cannot be read" in rows["1_bad-status"]["error"]
    assert (
        rows["2_bad-config"]["status"] == "unreadable" and "config.yaml cannot be read" in rows["2_bad-config"]["error"]
    )
    assert rows["3_killed"]["status"] == "died" and "ended without a word" in rows["3_killed"]["error"]

    code, _, err = main_of("plot_gradients.py", sweep, capsys=capsys)
    assert code == 0, err[-2000:]
    warned = err + caplog.text  # in-process, the script's warnings reach pytest's log capture
    assert "skipped" in warned and "2_bad-config" in warned
    assert (sweep / "gradient_norms.png").read_bytes()[:4] == b"\x89PNG"


def test_summarize_goes_on_past_a_damaged_search_record_and_a_config_edited_by_hand(
    trained_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    sweep = tmp_path / "sweep"
    for job in ("0_intact", "1_edited"):
        shutil.copytree(trained_run, sweep / job)
    config = yaml.safe_load((sweep / "1_edited" / "config.yaml").read_text())
    config["model"]["hidden"] = ["abc"]
    (sweep / "1_edited" / "config.yaml").write_text(yaml.safe_dump(config))
    results = (
        "study: mlplab\nstorage: optuna.journal\ntrials:\n  complete: 2\n  pruned: 0\n  fail: 0\nbest_trial: 1\n"
        "best_value: 0.8106\nbest_params:\n  model.optimizer.lr: 0.37\nbest_run_folder: 1_lr=0.37\n"
    )
    for cut in range(0, len(results), 7):  # a crash may cut it anywhere: each cut is a line, never a traceback
        (sweep / "optimization_results.yaml").write_text(results[:cut])
        code, out, err = main_of("summarize.py", sweep, capsys=capsys)
        assert code == 0 and "Traceback" not in err, f"cut at {cut}: {err[-2000:]}"
    (sweep / "optimization_results.yaml").write_text("study: mlplab\ntrials: [unclosed\n")
    code, out, err = main_of("summarize.py", sweep, capsys=capsys)
    assert code == 0, err[-2000:]
    lines = out.splitlines()
    assert f"{sweep}/optimization_results.yaml cannot be read (while parsing a flow sequence); " in "\n".join(lines)
    rows = {row["job"]: row for row in csv_rows(sweep / "summary.csv")}
    assert rows["1_edited"]["status"] == "completed" and rows["1_edited"]["val_acc"] == rows["0_intact"]["val_acc"]
    warned = out + err + caplog.text
    assert f"HPARAMS leaves out {sweep / '1_edited'}: its config.yaml cannot be compared" in warned
    assert (sweep / EXPERIMENT_FILE).stat().st_size > 0  # the other run still compared in HPARAMS


@contextmanager
def read_only_copy(source: Path, tmp_path: Path, name: str, prepare=None) -> Iterator[Path]:
    """A copy of `source` at <mount>/<name> on a tmpfs remounted read-only (a real read-only filesystem)."""
    mount = tmp_path / "read-only"
    mount.mkdir()
    if run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], timeout=30).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        copy = Path(shutil.copytree(source, mount / name, ignore=shutil.ignore_patterns("checkpoints")))
        if prepare is not None:
            prepare(copy)
        run(["mount", "-o", "remount,ro", str(mount)], timeout=30, check=True)
        yield copy
    finally:
        run(["umount", str(mount)], timeout=30, check=True)


def test_summarize_of_a_read_only_folder_shows_the_table_and_says_what_it_could_not_write(
    trained_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with read_only_copy(trained_run, tmp_path, "sweep/0_job") as job:
        sweep = job.parent
        code, out, err = main_of("summarize.py", sweep, capsys=capsys)
        left = sorted(p.name for p in sweep.iterdir())
    assert code == 1 and "| 1 | 0_job |" in out
    assert err.strip() == f"error: cannot write the summary into {sweep}: the filesystem is read-only"
    assert left == ["0_job"]


def test_eval_and_resume_of_a_run_on_a_read_only_filesystem_are_one_line_each(
    run_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(run_dir: Path) -> None:  # as after a Ctrl-C: a resume would go on; its last.ckpt too
        (run_dir / "status.json").write_text('{"status": "interrupted"}')
        shutil.copytree(run_copy / "checkpoints", run_dir / "checkpoints")

    with read_only_copy(run_copy, tmp_path, "run", prepare=interrupted) as run_dir:
        code, _, err = main_of("eval.py", run_dir, capsys=capsys)
        resume_code, _, resume_err = main_of("resume.py", run_dir, "trainer.max_epochs=3", capsys=capsys)
    assert code == 1 and err.strip() == (
        f"error: cannot write the evaluation into {run_dir}/eval/last: the filesystem is read-only; "
        "copy the run folder somewhere writable"
    ), err
    assert resume_code == 1 and resume_err.strip().startswith(
        f"error: cannot write to {run_dir}: the filesystem is read-only; a resume continues"
    ), resume_err


def csv_rows(path: Path) -> list[dict[str, str]]:
    import csv

    with path.open() as handle:
        return list(csv.DictReader(handle))


def test_a_run_folder_of_an_earlier_version_still_evaluates_and_resumes(
    fake_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """tests/fixtures/run_of_an_earlier_version: made by the version before data sets and loggers were groups.

    Its config.yaml still names `${mlplab_widths:${hidden}}`, FashionMNISTDataModule and one logger,
    and its checkpoint keeps the data module's state under that class's name.
    """
    run_dir = Path(shutil.copytree(ROOT / "tests" / "fixtures" / "run_of_an_earlier_version", tmp_path / "run"))
    config = (run_dir / "config.yaml").read_text()
    assert "${mlplab_widths:${hidden}}" in config and "FashionMNISTDataModule" in config
    (run_dir / "config.yaml").write_text(config.replace("/tmp/oldrun/data", str(fake_data)))  # its data, moved
    code, out, err = main_of("eval.py", run_dir, capsys=capsys)
    assert code == 0, err
    assert out.splitlines()[0].split()[0] == "t-shirt" and "test acc " in out
    code, _, err = main_of("resume.py", run_dir, "trainer.max_epochs=3", capsys=capsys)
    assert code == 0, err
    assert _loads(run_dir / "checkpoints" / "last.ckpt")["epoch"] == 2
    resolved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert resolved["model"]["hidden"] == [8] and resolved["trainer"]["max_epochs"] == 3, "now as it ran"
