"""The SLURM job this process runs in: its id, its CPUs, whether SLURM is requeueing it, its own earlier attempt."""

import os
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pytorch_lightning.utilities.exceptions import SIGTERMException

from mlplab.checkpoints import load_checkpoint, metrics_reached
from mlplab.run_folder import slurm_job_id
from mlplab.status import read_status


def slurm_cpus_per_task() -> int | None:
    """The CPUs SLURM gave each task of this job (--cpus-per-task), or None outside SLURM."""
    cpus = os.environ.get("SLURM_CPUS_PER_TASK")
    return int(cpus) if cpus and cpus.isdigit() else None


def being_requeued(stop: BaseException) -> bool:
    """Whether SLURM is stopping this job to start it again (scontrol requeue, preemption, submitit at a time limit).

    submitit requeues the job itself near its time limit and then exits with SystemExit(-1). Otherwise
    SLURM counts a job's restarts as it requeues it, before its SIGTERM arrives; scancel and a time limit
    do not. So a count above the one this attempt started with means another attempt will follow.
    """
    job = slurm_job_id()
    if job is None:
        return False
    if isinstance(stop, SystemExit) and stop.code == -1:
        return True
    try:
        shown = subprocess.run(["scontrol", "show", "job", "-o", job], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False  # no answer: treat the stop as final, so the sweep hears of this job
    restarts = re.search(r"\bRestarts=(\d+)", shown.stdout)
    return restarts is not None and int(restarts.group(1)) > int(os.environ.get("SLURM_RESTART_COUNT") or 0)


def earlier_attempt(folder: Path) -> tuple[Path | None, dict[str, float] | None]:
    """For a SLURM job started again in its own run folder: its last.ckpt, and the metrics that checkpoint recorded.

    (None, None) for a first attempt, a folder of another job, or an attempt stopped before its first epoch
    ended (it starts over).
    """
    job = slurm_job_id()
    checkpoint = folder / "checkpoints" / "last.ckpt"
    if job is None or read_status(folder).get("slurm_job") != job or not checkpoint.is_file():
        return None, None
    return checkpoint, metrics_reached(load_checkpoint(checkpoint))


@contextmanager
def time_limit_as_sigterm() -> Iterator[None]:
    """Let submitit's "timed out, not requeued" end a run as SIGTERM does: interrupted, with a resume command.

    Near a job's time limit submitit requeues it while its max_num_timeout budget lasts; after that it
    raises UncompletedJobError inside the training step, which would otherwise read as a failure.
    """
    try:
        yield
    except Exception as error:
        if type(error).__name__ != "UncompletedJobError" or not type(error).__module__.startswith("submitit"):
            raise
        raise SIGTERMException(
            "the SLURM job reached its time limit (hydra.launcher.timeout_min) with no requeue left "
            "(hydra.launcher.max_num_timeout)"
        ) from error
