"""Training one model as its config describes: data, model, trainer, fit, test; the chapter's steps in order."""

import logging
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig

from mlplab.callbacks import RunRecord, SlurmSignal
from mlplab.config import check, recorded_config, write_run_config
from mlplab.console import describe, quiet_lightning, shown_path
from mlplab.distributed import global_rank
from mlplab.hparams_events import log_run_hparams
from mlplab.loggers import build_loggers, tensorboard_of
from mlplab.slurm_job import noting_slurm_signals, slurm_cpus_per_task
from mlplab.status import write_json_atomic

log = logging.getLogger("train")
DEFAULT_THREADS = torch.get_num_threads()  # torch's choice for this machine, before any job sets its own


def train(
    cfg: DictConfig, resume_from: Path | None = None, reached: dict[str, float] | None = None
) -> dict[str, float]:
    """Train and test one model; return its final metrics, also written to <run folder>/metrics.json.

    With `resume_from`, a checkpoint of this run, training continues from it in the same folder;
    `reached` holds the metrics that checkpoint recorded, for a resume that has no epochs left to train.
    """
    check(cfg)
    quiet_lightning(cfg.verbose)
    output_dir = Path(cfg.output_dir)
    if counts_minibatches(cfg.trainer):
        cfg.data.batches_per_step = 1  # so that Lightning's batch counts count SGD updates, as the user means
    if global_rank() == 0:
        output_dir.mkdir(parents=True, exist_ok=True)
        write_run_config(cfg, output_dir / "config.yaml")
    # A SLURM job's CPUs, not the whole node's: parallel jobs on few cores slow each other down 4-14x
    # otherwise. Set every time, the default too: a sweep's earlier job may have set another number.
    torch.set_num_threads(cfg.threads or slurm_cpus_per_task() or DEFAULT_THREADS)
    pl.seed_everything(cfg.seed, verbose=False)

    datamodule = instantiate(cfg.data)
    # data.json, the files read with their checksums, goes in the run's folder; a resume compared them with
    # it and leaves it as it is: the record of what the earlier epochs read.
    datamodule.run_dir = output_dir if resume_from is None else None
    model = instantiate(cfg.model)
    if global_rank() == 0:
        log.info(describe(cfg, type(model).__name__))
        log.info(f"run folder: {shown_path(output_dir)}")
    if cfg.compile:
        model = torch.compile(model)  # Lightning trains and checkpoints the module inside as usual

    loggers = build_loggers(cfg.logger)
    callbacks = [instantiate(callback) for callback in cfg.callbacks.values() if callback is not None]
    callbacks.append(RunRecord(recorded_config(cfg)))  # what resume compares an edited config.yaml with
    if noting_slurm_signals():
        callbacks.append(SlurmSignal())  # a SLURM job's time limit, acted on between steps
    trainer = instantiate(cfg.trainer, logger=loggers, callbacks=callbacks)

    trainer.fit(model, datamodule=datamodule, ckpt_path=resume_from, weights_only=True)
    metrics = (reached or {}) | _final_metrics(trainer)  # a resume with no epochs left trained nothing
    # Test the final weights, as the chapter does; best.ckpt stays on disk for evaluation.
    trainer.test(model, datamodule=datamodule, verbose=False)
    metrics |= _final_metrics(trainer) | {"epochs": trainer.current_epoch}  # epochs trained, resumes included
    if trainer.is_global_zero:  # the other DDP ranks hold the same, synced numbers
        log.info(f"test acc {metrics['acc/test']:.3f}")
        if tensorboard := tensorboard_of(loggers):  # a row of HPARAMS: the metrics are the curves' last values
            log_run_hparams(tensorboard, cfg)
        for logger in loggers:
            logger.finalize("success")
        write_json_atomic(output_dir / "metrics.json", metrics)
        if not (HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN):  # a sweep says it once
            folder = shown_path(output_dir)
            compare = "compare runs: make tensorboard; " if tensorboard_of(loggers) else ""
            log.info(f"results in {folder}; {compare}evaluate: python src/eval.py {folder}")
    return metrics


def counts_minibatches(trainer: DictConfig) -> bool:
    """Whether a Trainer flag counts batches: then each Lightning step must be one minibatch, one update."""

    def everything(value: object) -> bool:  # the float 1.0 means all batches; the int 1 means one batch
        return value is None or (isinstance(value, float) and value == 1.0)

    limits = (trainer.get("limit_train_batches"), trainer.get("val_check_interval"))
    return not all(map(everything, limits)) or bool(trainer.get("overfit_batches") or trainer.get("fast_dev_run"))


def _final_metrics(trainer: pl.Trainer) -> dict[str, float]:
    """The last logged value of each metric; "step" only sets TensorBoard's x-axis."""
    return {k: float(v) for k, v in trainer.callback_metrics.items() if k != "step"}
