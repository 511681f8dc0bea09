"""Logging: the filter our log config applies, and the same console and file format outside Hydra (resume)."""

import logging
import logging.config
from pathlib import Path

from omegaconf import OmegaConf

JOB_LOGGING = Path(__file__).resolve().parents[2] / "conf" / "hydra" / "job_logging" / "mlplab.yaml"


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


def configure_logging(log_file: Path) -> None:
    """Log as conf/hydra/job_logging/mlplab.yaml says, appending to `log_file`."""
    settings = OmegaConf.load(JOB_LOGGING)
    settings.handlers.file.filename = str(log_file)
    logging.config.dictConfig(OmegaConf.to_container(settings, resolve=True))
