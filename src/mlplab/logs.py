"""Logging: the filter our log config applies, and the same console and file format outside Hydra (resume)."""

import logging
import logging.config
import os
import sys
from pathlib import Path

from omegaconf import OmegaConf

JOB_LOGGING = Path(__file__).resolve().parents[2] / "conf" / "hydra" / "job_logging" / "mlplab.yaml"


class ConsoleHandler(logging.StreamHandler):
    """Writes to whatever sys.stdout is now, so a progress bar that redirects it draws lines above itself."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property
    def stream(self):  # noqa: ANN201 - logging.StreamHandler's attribute, made to follow sys.stdout
        return sys.stdout

    @stream.setter
    def stream(self, value: object) -> None:
        pass  # StreamHandler.__init__ sets it; sys.stdout is always the answer


class WithoutLightningTips(logging.Filter):
    """Drop Lightning's "💡 Tip:" lines: advertisements for its cloud services, printed by every run."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("💡 Tip:")


class QuietLightning(logging.Filter):
    """On the console, drop Lightning's info lines (hardware banners, set-up notes) unless the run is verbose.

    The run's train.log keeps them all.
    """

    verbose = False  # set from the run's config by mlplab.console.quiet_lightning

    def filter(self, record: logging.LogRecord) -> bool:
        lightning = record.name.startswith(("pytorch_lightning", "lightning_fabric", "lightning."))
        return self.verbose or not lightning or record.levelno >= logging.WARNING


class JobLabel(logging.Filter):
    """In a multirun, start each console line with its job: `[3/6 model=concise,activation=tanh] epoch 1, ...`.

    Jobs that run side by side (joblib, SLURM) would otherwise interleave their lines unlabelled.
    """

    def __init__(self) -> None:
        super().__init__()
        self.label: str | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if self.label is None:
            self.label = job_label()
        if self.label and not getattr(record, "labelled", False):
            record.msg, record.labelled = f"{self.label} {record.msg}", True
        return True


def job_label() -> str:
    """`[<job number>/<jobs> <its name>]` inside a multirun's job, else ''."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from mlplab.naming import JOB

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return ""
    # A record logged after the job (submitit's "Job completed successfully") finds Hydra's job unset.
    if (number := OmegaConf.select(HydraConfig.get(), "job.num", throw_on_missing=False)) is None:
        return ""
    number += 1
    jobs = os.environ.get("MLPLAB_SWEEP_JOBS")
    # A resumed search numbers its trials on from the study's: `[5/2 ...]` would read as nonsense.
    counted = jobs is not None and jobs.isdigit() and number <= int(jobs)
    # The job's name as its folder has it (`3_concise-tanh`), resolved by Hydra with the job's config.
    folder = Path(str(OmegaConf.select(HydraConfig.get(), "runtime.output_dir", throw_on_missing=False))).name
    name = match.group(2) if (match := JOB.match(folder)) else folder
    return f"[{number}/{jobs} {name}]" if counted else f"[{number} {name}]"


def configure_logging(log_file: Path) -> None:
    """Log as conf/hydra/job_logging/mlplab.yaml says, appending to `log_file`."""
    settings = OmegaConf.load(JOB_LOGGING)
    settings.handlers.file.filename = str(log_file)
    logging.config.dictConfig(OmegaConf.to_container(settings, resolve=True))
