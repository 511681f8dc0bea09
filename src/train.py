"""Train an MLP on Fashion-MNIST as the config describes: data, model, trainer, fit, test.

python src/train.py model=scratch activation=tanh
"""

# ruff: noqa: E402 (the imports follow gc.disable below)

import gc

# Importing Lightning creates half a million objects that live as long as the process. Collecting
# while they pile up finds no garbage and costs most of a second; once imported they are frozen
# out of every later collection, during training and at exit (another second).
gc.disable()

import logging
import warnings
from pathlib import Path

import hydra
import pytorch_lightning as pl
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.utilities.exceptions import SIGTERMException

from mlplab.config import check, register_configs
from mlplab.distributed import adopt_submitit_tasks, check_multirun_ddp, global_rank
from mlplab.errors import MlplabError
from mlplab.hparams_events import log_run_hparams
from mlplab.status import recorded_status, write_json_atomic

log = logging.getLogger(__name__)
register_configs()
gc.freeze()
gc.enable()
# Lightning 2.6 calls a torch API that torch 2.14 deprecates; nothing a user could act on.
warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
# Under bf16-mixed the parameters stay float32, so the summary's 32-bit size estimate is the right one.
warnings.filterwarnings("ignore", message=r"Precision bf16-mixed is not supported by the model summary")


def train(cfg: DictConfig, resume_from: Path | None = None) -> dict[str, float]:
    """Train and test one model; return its final metrics, also written to <run folder>/metrics.json.

    With `resume_from`, a checkpoint of this run, training continues from it in the same folder.
    """
    check(cfg)
    output_dir = Path(cfg.output_dir)
    if global_rank() == 0:
        output_dir.mkdir(parents=True, exist_ok=True)
        # What resume, evaluation and summaries read back. Only output_dir is pinned to its value
        # (Hydra's resolver exists only under Hydra); paths inside the folder still follow it if moved.
        OmegaConf.save(OmegaConf.merge(cfg, {"output_dir": str(output_dir)}), output_dir / "config.yaml")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)  # parallel jobs on few cores slow each other down 4-14x otherwise
    pl.seed_everything(cfg.seed, verbose=False)

    datamodule = instantiate(cfg.data)
    model = instantiate(cfg.model)
    log.info(f"{type(model).__name__} with {model.num_parameters():,} parameters")
    if cfg.compile:
        model = torch.compile(model)  # Lightning trains and checkpoints the module inside as usual

    logger = instantiate(cfg.logger)
    callbacks = [instantiate(callback) for callback in cfg.callbacks.values() if callback is not None]
    trainer = instantiate(cfg.trainer, logger=logger, callbacks=callbacks)

    trainer.fit(model, datamodule=datamodule, ckpt_path=resume_from, weights_only=True)
    metrics = _final_metrics(trainer)
    # Test the final weights, as the chapter does; best.ckpt stays on disk for evaluation.
    trainer.test(model, datamodule=datamodule, verbose=False)
    metrics |= _final_metrics(trainer)
    if trainer.is_global_zero:  # the other DDP ranks hold the same, synced numbers
        log.info(f"test acc {metrics['acc/test']:.3f}")
        log_run_hparams(logger, cfg)  # a row of TensorBoard's HPARAMS: the metrics are the curves' last values
        logger.finalize("success")
        write_json_atomic(output_dir / "metrics.json", metrics)
    return metrics


def _final_metrics(trainer: pl.Trainer) -> dict[str, float]:
    """The last logged value of each metric; "step" only sets TensorBoard's x-axis."""
    return {k: float(v) for k, v in trainer.callback_metrics.items() if k != "step"}


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> float:
    """Hydra's entry point; returns the validation accuracy, the value sweepers optimise."""
    adopt_submitit_tasks()
    try:
        with recorded_status(Path(cfg.output_dir), enabled=global_rank() == 0):
            check_multirun_ddp(cfg)
            metrics = train(cfg)
    except MlplabError as err:
        log.error(f"error: {err}")
        if HydraConfig.get().mode == RunMode.RUN:
            raise SystemExit(2) from None
        return float("nan")  # in a sweep: status.json records the failure and the other jobs go on
    except SystemExit as stop:  # Lightning turns Ctrl-C and SIGTERM into SystemExit after saving
        if global_rank() == 0:
            log.warning(f"interrupted; continue with: python src/resume.py {cfg.output_dir}")
        raise SystemExit(143 if isinstance(stop, SIGTERMException) else 130) from None
    return metrics.get("acc/val", metrics["acc/test"])


if __name__ == "__main__":
    main()
