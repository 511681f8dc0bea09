"""Sweeps on a real SLURM cluster (make slurm-up): jobs, DDP over tasks, and what clusters do to jobs.

Preemption (scontrol requeue), time limits with a requeue budget and scancel, provoked for real on the
one-node cluster scripts/slurm-up starts. Run them with `make test-slurm`.
"""

import csv
import json
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import pytest

import processes
from conftest import ROOT, make_fake_fashion_mnist, tiny_overrides
from test_readme import readme_runs, tiny_budget


def _cluster_is_up() -> bool:
    if shutil.which("scontrol") is None:
        return False
    return "UP" in processes.run(["scontrol", "ping"], capture_output=True, text=True).stdout


pytestmark = [
    pytest.mark.slurm,
    pytest.mark.skipif(
        not _cluster_is_up(), reason="no SLURM cluster is up: as root, run `make slurm-up`, then `make test-slurm`"
    ),
]
# Jobs import the project as the environment has it; this checkout's src first (a worktree's editable
# install may point elsewhere).
ENV = os.environ | {"PYTHONPATH": str(ROOT / "src"), "PYTHONUNBUFFERED": "1"}
SLURM = ["hydra/launcher=slurm", "hydra.launcher.timeout_min=10", "threads=1"]
# The long jobs' names: model, activation, then the command line's settings in the order of their keys.
JOBS = [f"{i}_scratch-relu-batch_size=64-val_size=200-seed={i + 1}-max_epochs=150" for i in range(2)]
# A 1-minute limit. SLURM sends the time-limit signal at the first of its 30-second checks that falls
# within signal_delay_s + 30 s of the limit: 25-55 s into an attempt here, after the job's imports (a
# signal during them kills the job before submitit's handler is installed).
ONE_MINUTE = ["hydra.launcher.timeout_min=1", "hydra.launcher.signal_delay_s=5"]


@pytest.fixture(scope="module")
def slow_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Enough images that an epoch lasts a few seconds: long enough to signal a job in the middle of a run."""
    return make_fake_fashion_mnist(tmp_path_factory.mktemp("slow-data"), n_train=12000, n_test=300)


def _sweep_command(data: Path, sweep: Path, *args: str) -> list[str]:
    overrides = [o for o in tiny_overrides(data, Path()) if not o.startswith("output_dir")]
    return [sys.executable, str(ROOT / "src" / "train.py"), "-m", *SLURM, *overrides, f"hydra.sweep.dir={sweep}", *args]


def _sweep(data: Path, sweep: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = _sweep_command(data, sweep, *args)
    return processes.run(command, capture_output=True, text=True, timeout=600, env=ENV)


def _summary(sweep: Path) -> list[dict[str, str]]:
    with (sweep / "summary.csv").open() as handle:
        return list(csv.DictReader(handle))


def _status(folder: Path) -> dict:
    return json.loads((folder / "status.json").read_text())


def _wait_for(path: Path, text: str, seconds: float = 240) -> float:
    """Wait until the file holds `text`; return when it did."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.is_file() and text in path.read_text():
            return time.monotonic()
        time.sleep(0.2)
    raise AssertionError(f"{path} did not show {text!r} within {seconds} s")


def _only_job(sweep: Path, seconds: float = 120) -> Path:
    """The folder of a one-job sweep, once the job has made it (named by its overrides)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        jobs = [p for p in sweep.glob("[0-9]*") if p.is_dir()]
        if jobs:
            (job,) = jobs
            return job
        time.sleep(0.2)
    raise AssertionError(f"no job folder appeared in {sweep} within {seconds} s")


def _untimed(folder: Path) -> dict[str, float]:
    return {k: v for k, v in json.loads((folder / "metrics.json").read_text()).items() if not k.startswith("time/")}


def _straight_run(data: Path, folder: Path, *args: str) -> None:
    """The same training as one uninterrupted run on this machine, outside SLURM."""
    overrides = [o for o in tiny_overrides(data, Path()) if not o.startswith("output_dir")]
    command = [sys.executable, str(ROOT / "src" / "train.py"), *overrides, "threads=1", f"hydra.run.dir={folder}"]
    processes.run([*command, *args], check=True, capture_output=True, env=ENV, timeout=600)


def _partition() -> str:
    """The cluster's default partition, as `sinfo` marks it (debug* on make slurm-up's cluster)."""
    partitions = processes.run(["sinfo", "-h", "-o", "%P"], capture_output=True, text=True, check=True).stdout
    return next(p for p in partitions.split() if p.endswith("*")).rstrip("*")


def test_the_readmes_slurm_commands_run_each_job_as_a_slurm_job_and_ddp_as_one_run(
    fake_data: Path, tmp_path: Path
) -> None:
    commands = readme_runs(on_slurm=True)
    assert len(commands) == 2, "the README shows a sweep and a DDP run on SLURM"
    for number, argv in enumerate(commands):
        outputs = tmp_path / str(number)
        words = [word.replace("<partition>", _partition()) for word in tiny_budget(argv, fake_data, outputs)]
        command = [sys.executable, str(ROOT / argv[1]), *words]
        result = processes.run(command, capture_output=True, text=True, timeout=600, env=ENV)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert "error:" not in result.stdout + result.stderr
        (sweep,) = (outputs / "multirun").iterdir()
        rows = _summary(sweep)
        assert {r["status"] for r in rows} == {"completed"}
        jobs = {_status(sweep / r["job"])["slurm_job"] for r in rows}
        assert len(jobs) == len(rows), "each job ran as a SLURM job of its own"
        # SLURM's accounting knows them (as array tasks); slurmctld hands records to slurmdbd a moment later.
        processes.wait_until(partial(_accounted, jobs), f"sacct to list {sorted(jobs)}", timeout=60)
        if "trainer=ddp" in argv:
            (row,) = rows  # two tasks, one run folder
            job = sweep / row["job"]
            log = (job / "train.log").read_text()
            assert "GLOBAL_RANK: 0, MEMBER: 1/2" in log and "GLOBAL_RANK: 1, MEMBER: 2/2" in log
            assert sorted(p.name for p in (job / "checkpoints").iterdir()) == ["best.ckpt", "last.ckpt"]
        else:
            assert len(rows) == 2


def test_a_ddp_trial_the_pruner_stops_ends_on_every_rank(fake_data: Path, tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    search = ["hparams_search=optuna", "model.optimizer.lr=choice(0.5,1e-05)", "hidden=64x1", "activation=relu"]
    pruning = ["hydra.sweeper.n_trials=4", "hydra.sweeper.pruner.n_startup_trials=1", "trainer.max_epochs=3"]
    ddp = ["trainer=ddp", "hydra.launcher.tasks_per_node=2"]
    result = _sweep(fake_data, sweep, *search, *pruning, *ddp)  # a rank left training would hang to the timeout
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    pruned = [r for r in _summary(sweep) if r["status"] == "pruned"]
    assert pruned, "seed 42 samples the bad learning rate after the first trial"
    for row in pruned:
        log = (sweep / row["job"] / "train.log").read_text()
        assert "GLOBAL_RANK: 1, MEMBER: 2/2" in log and row["epochs"] == "1"
        job = _status(sweep / row["job"])["slurm_job"]
        for rank in (0, 1):  # what each task returned to submitit: the verdict, not a broken connection
            with (sweep / ".submitit" / job / f"{job}_{rank}_result.pkl").open("rb") as handle:
                outcome = pickle.load(handle)[1]._return_value
            assert type(outcome).__name__ == "TrialPruned", f"rank {rank}: {outcome!r}"


def _accounted(jobs: set[str]) -> bool:
    """Whether SLURM's accounting (sacct) lists every one of the jobs."""
    listed = processes.run(["sacct", "-n", "-X", "-j", ",".join(jobs), "-o", "jobid"]).stdout.split()
    return len(listed) == len(jobs)


def test_a_diverging_job_beside_a_good_one(fake_data: Path, tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    result = _sweep(fake_data, sweep, "model.optimizer.lr=1e6,0.3")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    by_status = {row["status"]: row for row in _summary(sweep)}
    assert set(by_status) == {"completed", "diverged"}
    assert "training diverged" in by_status["diverged"]["error"]


def test_a_request_no_node_can_meet_is_one_line_naming_the_knobs(fake_data: Path, tmp_path: Path) -> None:
    result = _sweep(fake_data, tmp_path / "sweep", "hydra.launcher.cpus_per_task=512")
    assert result.returncode == 2
    *sbatch, line = result.stderr.strip().splitlines()  # sbatch's own line, then ours; no traceback
    assert all(s.startswith("sbatch: error:") for s in sbatch)
    assert line.startswith("error: SLURM refused the jobs (") and "hydra.launcher.cpus_per_task" in line


def test_scancel_of_a_running_job_ends_the_sweep_with_the_job_interrupted_and_its_resume_command(
    slow_data: Path, tmp_path: Path
) -> None:
    sweep = tmp_path / "sweep"
    # Jobs of about half a minute: the first is cancelled in its first seconds, the second trains to its end.
    sweep_process = processes.Process(_sweep_command(slow_data, sweep, "trainer.max_epochs=150", "seed=1,2"), env=ENV)
    cancelled, other = sweep / JOBS[0], sweep / JOBS[1]
    _wait_for(cancelled / "train.log", "epoch 1,")
    _wait_for(other / "train.log", "epoch 1,")
    job = _status(cancelled)["slurm_job"]
    assert re.fullmatch(r"\d+_0", job), f"the array task's id, as scancel takes it: {job}"
    processes.run(["scancel", job], check=True)  # this task only: the sweep's other job goes on
    _, output = sweep_process.finish(timeout=300)
    assert sweep_process.returncode == 1, output[-3000:]
    assert "1 job did not complete" in output
    rows = {r["job"]: r for r in _summary(sweep)}
    assert rows[other.name]["status"] == "completed", "scancel of one task left the other alone"
    row = rows[cancelled.name]
    assert row["status"] == "interrupted"
    assert f"continue with: python src/resume.py {cancelled}" in row["error"]
    assert (cancelled / "checkpoints" / "interrupted.ckpt").is_file()


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_a_stopped_sweep_names_the_jobs_it_leaves_running_and_summarises_what_it_has(
    slow_data: Path, tmp_path: Path, stop: signal.Signals
) -> None:
    sweep = tmp_path / "sweep"
    sweep_process = processes.Process(_sweep_command(slow_data, sweep, "trainer.max_epochs=150", "seed=1,2"), env=ENV)
    folders = [sweep / job for job in JOBS]
    for folder in folders:
        _wait_for(folder / "train.log", "epoch 1,")
    jobs = [_status(folder)["slurm_job"] for folder in folders]
    sweep_process.send_signal(stop)  # Ctrl-C, a kill, or the terminal closed
    code, output = sweep_process.finish(timeout=120)
    try:
        assert code == 128 + stop and "Traceback" not in output, output[-3000:]
        assert f"stopped waiting for the jobs ({stop.name})" in output
        assert f"2 jobs still on SLURM: {' '.join(jobs)}; to stop them: scancel {' '.join(jobs)}" in output
        assert f"when they have ended, rebuild the summary: make summarize DIR={sweep}" in output
        rows = {r["job"]: r for r in _summary(sweep)}
        assert [rows[f.name]["status"] for f in folders] == ["running", "running"]
        assert f"still running as SLURM job {jobs[0]} (scancel {jobs[0]} stops it)" in rows[folders[0].name]["error"]
        queued = processes.run(["squeue", "-h", "-o", "%i"], check=True).stdout.split()
        assert set(jobs) <= set(queued), "the jobs train on without the process that waited for them"
    finally:
        processes.run(["scancel", *jobs], check=True)  # as the sweep said
    processes.wait_until(lambda: all(_status(f)["status"] == "interrupted" for f in folders), "both jobs ended")
    summarized = processes.script("summarize.py", sweep, env=ENV)
    assert summarized.returncode == 0, summarized.stderr[-2000:]
    assert [r["status"] for r in _summary(sweep)] == ["interrupted", "interrupted"]


def test_a_requeued_job_continues_from_its_last_epoch_to_the_metrics_of_an_uninterrupted_run(
    slow_data: Path, tmp_path: Path
) -> None:
    sweep, epochs = tmp_path / "sweep", ["trainer.max_epochs=4"]
    sweep_process = processes.Process(_sweep_command(slow_data, sweep, *epochs, "seed=5"), env=ENV)
    job = _only_job(sweep)
    _wait_for(job / "train.log", "epoch 1,")
    slurm_job = _status(job)["slurm_job"]
    requeued = time.monotonic()
    processes.run(["scontrol", "requeue", slurm_job], check=True)
    restarted = _wait_for(job / "train.log", "SLURM started this job again", seconds=300)
    _, output = sweep_process.finish(timeout=300)
    assert sweep_process.returncode == 0, output[-3000:]
    print(f"requeued job started again after {restarted - requeued:.0f} s")

    log = (job / "train.log").read_text()
    assert log.count("epoch 1,") == 1, "epoch 1 is trained once"
    assert _status(job) | {"status": "completed", "slurm_job": slurm_job} == _status(job)
    assert not [p.name for p in (job / "checkpoints").iterdir() if re.search(r"-v\d", p.name)]
    assert [r["epochs"] for r in _summary(sweep)] == ["4"]
    _straight_run(slow_data, tmp_path / "straight", *epochs, "seed=5")
    assert _untimed(job) == _untimed(tmp_path / "straight")


def test_a_job_requeued_after_a_node_failure_is_followed_to_its_end(slow_data: Path, tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    # About half a minute of training: the node fails while the job trains, early in the sweep.
    sweep_process = processes.Process(_sweep_command(slow_data, sweep, "trainer.max_epochs=150", "seed=7"), env=ENV)
    job = _only_job(sweep)
    # Early in the sweep submitit asks sacct every few seconds, so it sees the ~10 s in which sacct reports
    # the failed attempt's NODE_FAIL before the requeued one's PENDING: as a sweep of long jobs sometimes does.
    _wait_for(job / "train.log", "epoch 1,")
    node = processes.run(["sinfo", "-h", "-N", "-o", "%N"], check=True).stdout.split()[0]
    processes.run(["scontrol", "update", f"nodename={node}", "state=down", "reason=mlplab test"], check=True)
    try:  # SLURM ends the job NODE_FAIL and requeues it; it starts again when the node is back
        processes.wait_until(lambda: "NODE_FAIL" in _sacct_states(_status(job)["slurm_job"]), "NODE_FAIL")
    finally:  # ReturnToService=2 may have brought it back already: then this says so and changes nothing
        processes.run(["scontrol", "update", f"nodename={node}", "state=resume"])
        processes.wait_until(lambda: "down" not in _node_state(node), "the node back")
    _wait_for(job / "train.log", "SLURM started this job again", seconds=300)
    _, output = sweep_process.finish(timeout=300)
    assert sweep_process.returncode == 0, output[-3000:]
    assert "resume.py" not in output and "did not complete" not in output
    assert _status(job)["status"] == "completed", output[-3000:] + (job / "train.log").read_text()
    assert [(r["status"], r["epochs"]) for r in _summary(sweep)] == [("completed", "150")]


def test_a_suspended_job_is_waited_for_not_taken_as_ended(slow_data: Path, tmp_path: Path) -> None:
    """submitit takes any state outside its short list (SUSPENDED, or a NODE_FAIL sacct shows for a moment
    before the requeued attempt's PENDING) as the job's end; the sweep asks the controller instead."""
    sweep = tmp_path / "sweep"
    sweep_process = processes.Process(_sweep_command(slow_data, sweep, "trainer.max_epochs=150", "seed=8"), env=ENV)
    job = _only_job(sweep)
    _wait_for(job / "train.log", "epoch 1,")
    slurm_job = _status(job)["slurm_job"]
    processes.run(["scontrol", "suspend", slurm_job], check=True)
    try:
        waiting = f"job 0: SLURM runs job {slurm_job} again (SUSPENDED); waiting for it"
        processes.wait_until(lambda: waiting in sweep_process.output(), waiting, process=sweep_process)
    finally:
        processes.run(["scontrol", "resume", slurm_job], check=True)
    _, output = sweep_process.finish(timeout=300)
    assert sweep_process.returncode == 0, output[-3000:]
    assert _status(job)["status"] == "completed"
    assert [(r["status"], r["epochs"]) for r in _summary(sweep)] == [("completed", "150")]


def _node_state(node: str) -> str:
    return processes.run(["sinfo", "-h", "-N", "-n", node, "-o", "%T"]).stdout


def _sacct_states(job: str) -> str:
    return processes.run(["sacct", "-n", "-D", "-X", "-o", "state", "-j", job]).stdout


def _epochs_lasting(data: Path, seconds: float, folder: Path) -> int:
    """How many epochs of `data` train for about `seconds` on this machine now: measured, not assumed."""
    _straight_run(data, folder, "trainer.max_epochs=3", "seed=6")
    per_epoch = json.loads((folder / "metrics.json").read_text())["time/train_epoch_s"]
    return max(3, round(seconds / per_epoch))


def test_a_job_past_its_time_limit_is_requeued_and_continues_to_the_metrics_of_an_uninterrupted_run(
    tmp_path: Path,
) -> None:
    # SLURM signals each attempt 25-55 s into its 1-minute limit (ONE_MINUTE), and submitit requeues it
    # while the budget lasts (10). About 100 s of training, measured here: more than one attempt holds,
    # and half of what 11 attempts of at least 20 s of training each give, should the machine slow down.
    data = make_fake_fashion_mnist(tmp_path / "data", n_train=30000, n_test=300)
    epochs = [f"trainer.max_epochs={_epochs_lasting(data, 100, tmp_path / 'probe')}"]
    sweep = tmp_path / "sweep"
    limits = [*ONE_MINUTE, "hydra.launcher.max_num_timeout=10"]
    result = _sweep(data, sweep, *epochs, *limits, "seed=6")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    job = _only_job(sweep)
    log = (job / "train.log").read_text()
    assert "SLURM started this job again" in log, "the time limit was reached at least once"
    assert log.count("epoch 1,") == 1
    assert not [p.name for p in (job / "checkpoints").iterdir() if re.search(r"-v\d", p.name)]
    assert [r["epochs"] for r in _summary(sweep)] == [epochs[0].split("=")[1]]
    _straight_run(data, tmp_path / "straight", *epochs, "seed=6")
    assert _untimed(job) == _untimed(tmp_path / "straight")


def test_a_job_past_its_time_limit_without_a_requeue_budget_is_interrupted_and_says_why(
    slow_data: Path, tmp_path: Path
) -> None:
    sweep = tmp_path / "sweep"
    # A budget no machine trains through in a minute: the time limit ends it, however fast or loaded.
    result = _sweep(slow_data, sweep, "trainer.max_epochs=1000000", *ONE_MINUTE)  # max_num_timeout=0
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    (row,) = _summary(sweep)
    assert row["status"] == "interrupted"
    assert "reached its time limit (hydra.launcher.timeout_min)" in row["error"]
    assert "continue with: python src/resume.py" in row["error"] or "start it again" in row["error"]
    assert f"{row['job']}: interrupted: the SLURM job reached its time limit" in output, "the console says why"
    assert "UserWarning" not in output


DAEMONS = ("slurmctld", "slurmd", "slurmdbd", "munged", "mariadbd")


def _running(name: str) -> list[int]:
    return [int(pid) for pid in processes.run(["pgrep", "-x", name]).stdout.split()]


def test_slurm_down_stops_a_daemon_restarted_by_hand_and_slurm_up_starts_a_cluster_that_answers() -> None:
    """Last in this file (make test-slurm runs it in order): it takes the cluster down and brings it back."""
    state = Path(os.environ.get("MLPLAB_SLURM_STATE", "/var/lib/mlplab-slurm"))
    by_hand = int((state / "slurmctld.pid").read_text())
    processes.run(["kill", str(by_hand)], check=True)
    processes.wait_until(lambda: not _running("slurmctld"), "slurmctld stopped")
    processes.run(["slurmctld", "-s"], check=True)  # as an administrator restarts it: not in slurm-up's record
    processes.wait_until(lambda: "UP" in processes.run(["scontrol", "ping"]).stdout, "slurmctld up again")

    down = processes.run(["make", "-s", "slurm-down"], cwd=ROOT, check=True)
    assert "stopped slurmctld" in down.stdout, down.stdout
    assert {name: _running(name) for name in DAEMONS} == {name: [] for name in DAEMONS}
    assert not Path("/etc/slurm/slurm.conf").exists() and not Path("/etc/slurm/slurmdbd.conf").exists()

    up = processes.run(["make", "-s", "slurm-up"], cwd=ROOT, timeout=300)
    assert up.returncode == 0 and up.stdout.startswith("SLURM up:"), up.stdout + up.stderr
    recorded = dict(line.split() for line in (state / "pids").read_text().splitlines())
    assert {name: [int(recorded[name])] for name in DAEMONS} == {name: _running(name) for name in DAEMONS}
    assert processes.run(["srun", "-N1", "-t", "1", "true"], timeout=120).returncode == 0
