"""Logging outside Hydra (resume): the same console and file format as a Hydra run."""

import logging.config
from pathlib import Path

from omegaconf import OmegaConf

JOB_LOGGING = Path(__file__).resolve().parents[2] / "conf" / "hydra" / "job_logging" / "mlplab.yaml"


def configure_logging(log_file: Path) -> None:
    """Log as conf/hydra/job_logging/mlplab.yaml says, appending to `log_file`."""
    settings = OmegaConf.load(JOB_LOGGING)
    settings.handlers.file.filename = str(log_file)
    logging.config.dictConfig(OmegaConf.to_container(settings, resolve=True))
