"""One job of `python src/train.py ...`: train it, and end it the way a shell or a sweep expects."""

import logging
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from lightning_fabric.utilities.exceptions import MisconfigurationException
from omegaconf import DictConfig
from pytorch_lightning.utilities.exceptions import SIGTERMException

from mlplab.console import point_latest_at, shown_path
from mlplab.distributed import adopt_submitit_tasks, check_multirun_ddp, global_rank, submitit_job
from mlplab.errors import MlplabError
from mlplab.slurm_job import being_requeued, earlier_attempt, slurm_signals
from mlplab.status import recorded_status
from mlplab.stop_signals import stop_signals
from mlplab.training import train

log = logging.getLogger("train")


def run_job(cfg: DictConfig) -> float:
    """One job of a command line, as Hydra hands it over; returns the validation accuracy, which sweepers optimise.

    Errors end it with one line; Ctrl-C and SIGTERM with how to go on; a SLURM requeue continues it.
    """
    adopt_submitit_tasks()
    folder = Path(cfg.output_dir)
    try:
        # A SLURM job requeued (preempted, past its time limit) starts again in its own folder: it goes on.
        resume_from, reached = earlier_attempt(folder)
        with stop_signals(), recorded_status(folder, enabled=global_rank() == 0), slurm_signals():
            check_multirun_ddp(cfg)
            if HydraConfig.get().mode == RunMode.RUN and global_rank() == 0:
                point_latest_at(folder, Path(cfg.outputs))
            if resume_from and global_rank() == 0:
                log.info(f"SLURM started this job again: continuing from {shown_path(resume_from)}")
            metrics = train(cfg, resume_from=resume_from, reached=reached)
    except (MlplabError, MisconfigurationException) as err:  # Lightning's refusal of a flag's value, too
        log.error(f"error: {err}")
        if HydraConfig.get().mode == RunMode.RUN:
            raise SystemExit(getattr(err, "exit_code", 2)) from None
        return float("nan")  # in a sweep: status.json records the failure and the other jobs go on
    except (SystemExit, KeyboardInterrupt) as stop:  # Lightning turns them into SystemExit after saving
        if being_requeued(stop):  # no result: SLURM starts the job again and submitit waits for that attempt
            log.warning("SLURM is requeueing this job: it continues from its last epoch when it starts again")
            raise SystemExit(143) from None
        code = interrupted(stop, folder)
        if submitit_job():  # scancel, a time limit: a launched job returns to the sweep; its summary says more
            return float("nan")
        raise SystemExit(code) from None
    return metrics[cfg.objective.metric]  # acc/val by default; with data.val_size=0 the chapter's, on the test set


def interrupted(stop: BaseException, folder: Path) -> int:
    """Say how to go on after Ctrl-C or SIGTERM; the exit status a shell or a cluster expects (130, 143)."""
    if global_rank() == 0:
        if (folder / "checkpoints" / "last.ckpt").is_file():
            log.warning(f"interrupted; continue with: python src/resume.py {shown_path(folder)}")
        else:
            log.warning("interrupted before the first epoch ended: no checkpoint, nothing to resume; start again")
    return 143 if isinstance(stop, SIGTERMException) else 130
