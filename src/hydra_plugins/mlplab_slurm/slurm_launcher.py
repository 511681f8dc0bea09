"""MlplabSlurmLauncher: hydra-submitit-launcher's SLURM launcher, with errors a cluster user can act on.

- A request SLURM refuses at submission (more CPUs or memory than a node has) is one line naming the
  launcher's knobs, exit 2, instead of submitit's traceback.
- A job that ends without a result (cancelled while pending, killed, out of memory, node failure) does
  not stop the sweep: its status.json says how it ended, as SLURM's accounting reports it, and the
  sweep goes on to its summary, which counts it as not completed.
- A job SLURM requeues after a node failure is followed to its end, as a requeued job is: submitit
  alone would take the failed attempt's NODE_FAIL for the job's end.
- The process waiting for the jobs, stopped (Ctrl-C, SIGTERM, a closed terminal's SIGHUP), leaves the
  jobs running: it names them with the scancel command that stops them, says how to rebuild the
  summary when they have ended, and writes the summary it has.

Hydra imports this module in every run when it looks for plugins: it imports submitit only when
jobs are launched, and nothing at all if hydra-submitit-launcher is not installed.
"""

import logging
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from hydra.core.hydra_config import HydraConfig
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from omegaconf import OmegaConf, open_dict

try:
    from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher
except ImportError:  # the launchers extra is not installed: hydra/launcher=slurm says so when chosen
    SlurmLauncher = None

if TYPE_CHECKING:
    import submitit

log = logging.getLogger(__name__)
KNOBS = "hydra.launcher.cpus_per_task, mem_gb, gpus_per_node, tasks_per_node, partition or timeout_min"
# launch() below follows hydra-submitit-launcher 1.2.0's BaseSubmititLauncher.launch, whose source has this
# SHA-256: a test fails when an upgrade changes it, so that the two are compared again by a person.
UPSTREAM_LAUNCH_SHA256 = "546875669010f80d6ceede740e8bf2d18088cf5bcce2eb4794c735fa3dc2fc0e"

if SlurmLauncher is not None:

    class MlplabSlurmLauncher(SlurmLauncher):
        """Submit each job as a SLURM job; report refused submissions in one line and lost jobs per job."""

        def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
            """Submit the jobs as one array, wait for them, and return one result per job, lost jobs included."""
            import submitit
            from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf

            settings = dict(self.params)
            executor = submitit.AutoExecutor(
                folder=settings.pop("submitit_folder"), slurm_max_num_timeout=settings.pop("max_num_timeout")
            )
            common = set(OmegaConf.structured(BaseQueueConf).keys())  # the others carry the slurm_ prefix
            executor.update_parameters(**{k if k in common else f"slurm_{k}": v for k, v in settings.items()})
            Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
            numbers = range(initial_job_idx, initial_job_idx + len(job_overrides))
            for number, overrides in zip(numbers, job_overrides, strict=True):
                log.info(f"\t#{number} : {' '.join(filter_overrides(overrides))}")
            arguments = [(list(o), "hydra.sweep.dir", n, f"job_id_for_{n}", Singleton.get_state())
                         for n, o in zip(numbers, job_overrides, strict=True)]  # fmt: skip
            try:
                jobs = executor.map_array(self, *zip(*arguments, strict=True))
            except submitit.core.utils.FailedJobError as err:
                print(
                    f"error: SLURM refused the jobs ({_sbatch_reason(err)}); ask for what a node of the "
                    f"partition has: {KNOBS} (sinfo -N -o '%N %c %m %G %P' lists the nodes)",
                    file=sys.stderr,
                )
                raise SystemExit(2) from None
            with _stop_waiting_on_signals():
                try:
                    return [
                        self._result(job, list(o), n) for job, o, n in zip(jobs, job_overrides, numbers, strict=True)
                    ]
                except _StoppedWaiting as stop:
                    self._left_running(jobs, stop)
                    raise SystemExit(128 + stop.signum) from None

        def _left_running(self, jobs: list["submitit.Job"], stop: "_StoppedWaiting") -> None:
            """Name the jobs a stopped sweep leaves running, how to stop them, and how to summarise them later."""
            running = [job.job_id for job in jobs if not job.done()]
            folder = self.config.hydra.sweep.dir
            lines = [f"stopped waiting for the jobs ({signal.Signals(stop.signum).name})"]
            if running:
                lines += [
                    f"{len(running)} job{'s' * (len(running) != 1)} still on SLURM: {' '.join(running)}; "
                    f"to stop {'them' if len(running) != 1 else 'it'}: scancel {' '.join(running)}",
                    f"when they have ended, rebuild the summary: make summarize DIR={folder}",
                ]
            for line in lines:  # after SIGHUP the terminal may be gone: the summary's files are written all the same
                log.warning(line)

        def _result(self, job: "submitit.Job", overrides: list[str], number: int) -> JobReturn:
            """The job's own result; for a job that ended without one, a NaN and its folder saying why."""
            import submitit

            while True:
                try:
                    return job.results()[0]
                except (submitit.core.utils.UncompletedJobError, submitit.core.utils.FailedJobError):
                    # submitit took the state of an attempt SLURM has since requeued (NODE_FAIL) as the end
                    if (state := _slurm_state(job.job_id)) not in STILL_GOING:
                        return self._lost(job, overrides, number)
                log.info(f"job {number}: SLURM runs job {job.job_id} again ({state}); waiting for it")
                while _slurm_state(job.job_id) in STILL_GOING:
                    time.sleep(2)

        def _lost(self, job: "submitit.Job", overrides: list[str], number: int) -> JobReturn:
            """Record in the job's folder how a job without a result ended; a NaN result keeps the sweep going."""
            from mlplab.status import read_status, write_json_atomic

            folder = self._job_folder(overrides, number, job.job_id)
            status = read_status(folder)
            if status["status"] in ("running", "died", "unknown"):  # the job could not say it itself
                folder.mkdir(parents=True, exist_ok=True)
                reason = f"SLURM job {job.job_id} ended {job.state} without a result"
                status = {"status": "failed", "error": reason, "slurm_job": job.job_id}
                write_json_atomic(folder / "status.json", status)
            log.error(f"job {number} ({' '.join(overrides)}): {status.get('error', 'no result')}")
            return JobReturn(overrides=overrides, status=JobStatus.COMPLETED, _return_value=float("nan"),
                             working_dir=str(folder))  # fmt: skip

        def _job_folder(self, overrides: list[str], number: int, job_id: str) -> Path:
            """The job's folder, resolved as hydra-submitit-launcher's worker resolves it."""
            sweep_config = self.hydra_context.config_loader.load_sweep_config(self.config, overrides)
            with open_dict(sweep_config.hydra.job):
                sweep_config.hydra.job.id = job_id
                sweep_config.hydra.job.num = number
            HydraConfig.instance().set_config(sweep_config)  # the folder name reads this job's overrides
            try:
                return Path(str(sweep_config.hydra.sweep.dir)) / str(sweep_config.hydra.sweep.subdir)
            finally:
                HydraConfig.instance().set_config(self.config)


class _StoppedWaiting(Exception):  # noqa: N818 - a signal, not an error
    """The process waiting for a sweep's jobs got Ctrl-C, SIGTERM or SIGHUP."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextmanager
def _stop_waiting_on_signals() -> Iterator[None]:
    """While the block waits for jobs, Ctrl-C, SIGTERM and SIGHUP end the wait (once), not the jobs."""
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        if not stopping:  # a second signal during the last words is ignored
            stopping = True
            raise _StoppedWaiting(signum)

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_IGN if stopping else handler)


# States of a job SLURM has not finished with: a requeued job passes through them again.
STILL_GOING = ("PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED",
               "RESIZING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT")  # fmt: skip


def _slurm_state(job_id: str) -> str | None:
    """The job's state as the controller has it now (sacct may still report an earlier attempt's)."""
    try:
        shown = subprocess.run(["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    state = re.search(r"\bJobState=(\w+)", shown.stdout)
    return state.group(1) if state else None  # None: the controller has forgotten it (long finished)


def _sbatch_reason(err: Exception) -> str:
    """sbatch's own words from submitit's error: the line after 'error:'."""
    lines = [line for line in str(err).splitlines() if "error:" in line]
    return lines[-1].split("error:", 1)[1].strip() if lines else str(err).strip().splitlines()[0]
