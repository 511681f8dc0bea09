"""The SLURM job this process runs in: its id, its CPUs, whether SLURM is requeueing it, its own earlier attempt."""

import os
import re
import signal
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

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


# submitit's requeue-or-stop handler and its signal, once that signal has arrived and waits to be acted on.
_noted: list[tuple[Callable[[int, FrameType | None], None], int]] = []


def _submitit_handlers() -> list[tuple[int, Callable[[int, FrameType | None], None]]]:
    """The user signals (SIGUSR2 unless SUBMITIT_PREEMPT_SIGNAL says otherwise) that submitit handles here."""
    try:
        from submitit.core.job_environment import SignalHandler  # the `launchers` extra
    except ImportError:
        return []
    handlers = ((signum, signal.getsignal(signum)) for signum in (signal.SIGUSR1, signal.SIGUSR2))
    return [(signum, h) for signum, h in handlers if isinstance(getattr(h, "__self__", None), SignalHandler)]


def noting_slurm_signals() -> bool:
    """Whether slurm_signals() holds submitit's signal here, so SlurmSignal must act on it after each step."""
    return any(getattr(signal.getsignal(signum), "noting", False) for signum in (signal.SIGUSR1, signal.SIGUSR2))


def act_on_slurm_signal() -> None:
    """If submitit's signal has arrived: requeue (SystemExit(-1)) or, with no requeue left, stop as SIGTERM does."""
    if not _noted:
        return
    from submitit.core.utils import UncompletedJobError

    handler, signum = _noted.pop()
    try:
        handler(signum, None)  # submitit: checkpoint, `scontrol requeue` and exit, or UncompletedJobError
    except UncompletedJobError as error:  # a run out of time reads as interrupted, with a resume command
        raise SIGTERMException(
            "the SLURM job reached its time limit (hydra.launcher.timeout_min) with no requeue left "
            "(hydra.launcher.max_num_timeout)"
        ) from error


@contextmanager
def slurm_signals() -> Iterator[None]:
    """Inside a submitit job, the signal SLURM sends before a time limit (or on preemption) is acted on between steps.

    submitit's handler requeues the job while its max_num_timeout budget lasts, and otherwise raises
    UncompletedJobError, in whatever frame the signal lands: inside a logging call or under any `except
    Exception` that error is swallowed, and the run trains on until SLURM's SIGTERM at the limit, recorded
    as a bare SIGTERM. Here the signal is only noted; the SlurmSignal callback acts on it after the next
    training or validation step, and a SIGTERM that stops the run before that acts on it too, so the run
    ends the same way however loaded the machine is.
    """
    deferred = _submitit_handlers()
    for signum, handler in deferred:

        def note(signum: int, frame: FrameType | None, handler: Callable = handler) -> None:
            _noted[:] = [(handler, signum)]

        note.noting = True  # type: ignore[attr-defined] - how noting_slurm_signals() knows
        signal.signal(signum, note)
    try:
        yield
    except SIGTERMException as stop:
        if str(stop):  # a time limit already said so
            raise
        act_on_slurm_signal()  # the time limit's SIGTERM came before the next step: say so, or requeue
        raise
    finally:
        _noted.clear()
        for signum, handler in deferred:
            signal.signal(signum, handler)
