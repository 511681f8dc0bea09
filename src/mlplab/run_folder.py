"""A run folder belongs to one run: recognise one, and hold it while the run lives."""

import errno
import fcntl
import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mlplab.errors import ConfigError

# What train.py writes into a run folder; any of them means a run has used it.
RUN_FILES = ("config.yaml", "status.json", "metrics.json", "checkpoints", "tensorboard")
LOCK_FILE = ".lock"
# What flock says on a filesystem without locks: Lustre mounted noflock (ENOSYS), NFS without lockd (ENOLCK).
NO_LOCKS = (errno.ENOSYS, errno.ENOLCK, errno.EOPNOTSUPP)

log = logging.getLogger(__name__)
_warned_no_locks: set[str] = set()  # filesystems already warned about, by folder: once per process


def _without_locks(folder: Path, err: OSError) -> None:
    """Say once that this folder's filesystem takes no locks, and what that leaves unguarded."""
    if str(folder) not in _warned_no_locks:
        _warned_no_locks.add(str(folder))
        log.warning(
            f"{folder}'s filesystem does not support file locks ({os.strerror(err.errno)}); running without "
            "the lock: nothing stops a second run or resume of this folder while this one lives"
        )


def slurm_job_id() -> str | None:
    """This process's SLURM job as scancel and scontrol name it: <array>_<task> for an array task, else the job id.

    A sweep is one job array; each task's own SLURM_JOB_ID is a number scancel does not take for it.
    A requeued job keeps its id. None outside SLURM.
    """
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    return f"{array}_{task}" if array and task else os.environ.get("SLURM_JOB_ID")


def holds_a_run(folder: Path) -> bool:
    """Whether `folder` has been used by a run already."""
    return folder.is_dir() and any((folder / name).exists() for name in RUN_FILES)


_claimed: dict[Path, dict[str, str | int]] = {}  # folders this process holds already (claimed), with their owner


@contextmanager
def locked(folder: Path) -> Iterator[dict[str, str | int]]:
    """Hold an OS lock on `folder` while the block runs; refuse if another live process holds it.

    The kernel releases the lock when the process ends, however it ends (kill -9, the OOM killer),
    so a folder whose lock is free is never in use. Yields who holds it: the pid, host and SLURM job.
    A folder this process has claimed already is held on, not locked twice.
    """
    if (owner := _claimed.get(folder.resolve())) is not None:
        yield owner
        return
    folder.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(in_use(folder)) from None
        except OSError as err:
            if err.errno not in NO_LOCKS:
                raise
            _without_locks(folder, err)
        owner = {"pid": os.getpid(), "host": socket.gethostname()}
        if job := slurm_job_id():  # a requeued job knows its own folder by it (mlplab.slurm_job)
            owner["slurm_job"] = job
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"pid {owner['pid']} on {owner['host']}\n".encode(), 0)
        yield owner
    finally:
        os.close(descriptor)  # closing releases the lock


@contextmanager
def claimed(folder: Path) -> Iterator[None]:
    """Hold a new run's folder from before Hydra writes into it (.hydra/, train.log) until the block ends.

    Of two runs started at once in one folder, the second stops here having written nothing; one that
    starts after the first has ended finds the folder used.
    """
    with locked(folder) as owner:
        if holds_a_run(folder):
            raise ConfigError(already_holds_a_run(folder))
        _claimed[folder.resolve()] = owner
        try:
            yield
        finally:
            del _claimed[folder.resolve()]


def already_holds_a_run(folder: Path) -> str:
    """The message for a new run pointed at a folder a run has used."""
    return (
        f"{folder} already holds a run; continue it with `python src/resume.py {folder}`, or leave "
        "hydra.run.dir out to start a new run in a folder of its own"
    )


def is_locked(folder: Path) -> bool | None:
    """Whether a live process holds `folder`'s lock (a run or resume in progress); None where locks are unsupported."""
    try:
        descriptor = os.open(folder / LOCK_FILE, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError as err:
        if err.errno not in NO_LOCKS:
            raise
        return None  # cannot tell
    finally:
        os.close(descriptor)
    return False


def in_use(folder: Path) -> str:
    """The message for a folder another live process holds, naming that process."""
    holder = ""
    for _ in range(40):  # a holder that has just taken the lock writes its pid a moment later
        try:
            holder = (folder / LOCK_FILE).read_text().strip()
        except OSError:
            break
        if holder:
            break
        time.sleep(0.025)
    holder = holder or "another process"
    return f"{folder} is in use by {holder}; wait for it to end, or stop it first"
