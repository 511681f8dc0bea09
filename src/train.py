"""Train an MLP on Fashion-MNIST as the config describes: data, model, trainer, fit, test.

python src/train.py model=scratch activation=tanh

The command line is checked first (src/mlplab/cli.py): a mistake is answered before torch and
Lightning are imported. Training itself is mlplab.training.train; one job's ending is mlplab.job.
"""

import gc

import hydra
from omegaconf import DictConfig

from mlplab.cli import run_command_line
from mlplab.config import register_configs

register_configs()  # the typed schema conf/train.yaml starts from


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> float:
    """Hydra's entry point; returns the validation accuracy, the value sweepers optimise."""
    # Importing Lightning creates half a million objects that live as long as the process. Collecting
    # while they pile up finds no garbage and costs most of a second; once imported they are frozen
    # out of every later collection, during training and at exit (another second).
    gc.disable()
    from mlplab.job import run_job

    gc.freeze()
    gc.enable()
    return run_job(cfg)


if __name__ == "__main__":
    run_command_line(main)
