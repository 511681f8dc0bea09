"""Hyperparameters logged together with the final metrics, so TensorBoard's HPARAMS tab compares real numbers."""

from typing import Any

from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.loggers import Logger, TensorBoardLogger


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'a': {'b': 1}} -> {'a.b': 1}; lists become strings, since HPARAMS shows scalars only."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = str(value) if isinstance(value, (list, tuple)) or value is None else value
    return flat


def log_hparams_with_metrics(logger: Logger, cfg: DictConfig, metrics: dict[str, float]) -> None:
    """Record the run's settings (less the `_target_` plumbing) with its final losses and accuracies under `hp/`."""
    settings = {
        k: v
        for k, v in flatten(OmegaConf.to_container(cfg, resolve=True)).items()
        if not k.split(".")[-1].startswith("_")
        and not k.startswith(("callbacks.", "logger."))
        and k not in ("output_dir", "trainer.default_root_dir")  # the run folder: TensorBoard's run name says it
    }
    finals = {f"hp/{k.replace('/', '_')}": v for k, v in metrics.items() if k.split("/")[0] in ("train", "val", "test")}
    if isinstance(logger, TensorBoardLogger):
        logger.log_hyperparams(settings, metrics=finals)  # HPARAMS shows them together
    else:
        logger.log_hyperparams(settings)
        logger.log_metrics(finals)
