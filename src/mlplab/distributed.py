"""Several processes, one run: who is rank 0, and submitit tasks as DDP ranks."""

import os
from typing import TYPE_CHECKING

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from mlplab.errors import ConfigError

if TYPE_CHECKING:
    import submitit


def global_rank() -> int:
    """This process's rank as torchrun, SLURM or Lightning's own launcher set it (0 when alone)."""
    for variable in ("RANK", "SLURM_PROCID", "LOCAL_RANK"):
        if variable in os.environ:
            return int(os.environ[variable])
    return 0


def submitit_job() -> "submitit.JobEnvironment | None":
    """The submitit job this process is a task of (a launcher started it), or None."""
    try:
        import submitit

        return submitit.JobEnvironment()
    except (ImportError, RuntimeError):  # not inside a submitit job
        return None


def adopt_submitit_tasks() -> None:
    """Under submitit with several tasks per job, export their ranks the way torchrun does.

    Lightning then takes each task as one DDP rank instead of starting processes of its own
    (which would rerun the submitit worker's command line).
    """
    environment = submitit_job()
    if environment is not None and environment.num_tasks > 1:
        import submitit

        submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False)
        os.environ.setdefault("GROUP_RANK", str(environment.node))  # Lightning's torchelastic check wants it


def check_multirun_ddp(cfg: DictConfig) -> None:
    """Refuse a sweep whose jobs would each start DDP processes by rerunning the sweep's command line."""
    processes = cfg.trainer.get("devices", 1) * cfg.trainer.get("num_nodes", 1)
    if HydraConfig.get().mode != RunMode.MULTIRUN or processes in (1, "1") or "RANK" in os.environ:
        return
    raise ConfigError(
        f"trainer.devices={cfg.trainer.devices} in a -m sweep is not allowed: Lightning would start each "
        "job's other processes by rerunning the sweep's command line (a second sweep). Run the jobs one "
        "at a time, or launch the sweep with hydra/launcher=submitit_slurm (or submitit_local) and "
        "hydra.launcher.tasks_per_node equal to trainer.devices, so that each task is one rank"
    )
