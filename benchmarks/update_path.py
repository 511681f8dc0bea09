"""Where an update's time goes inside a real run: Lightning's two wrappers against the raw calls.

    python benchmarks/update_path.py experiment=chapter_concise trainer.max_epochs=12

Builds the preset's data, model, callbacks, logger and trainer as src/train.py does, then lets the
training steps take turns, one way each: src/train.py's own update (`manual_backward` and Lightning's
optimiser wrapper), the same update with raw `loss.backward()` and the optimiser's own `step()`, and
each of the two Lightning calls alone. The turns alternate step by step within one process, so the
machine's slow spells hit every way alike; separate processes, as in bench.py, cannot split a cost
this small from their noise. Prints a Markdown table (median over the steps after the first epoch).
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import pytorch_lightning as pl  # noqa: E402
import torch  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from hydra.utils import instantiate  # noqa: E402

from mlplab.config import register_configs  # noqa: E402
from mlplab.data.loader import Batch, StepBatches, minibatches  # noqa: E402
from mlplab.loggers import build_loggers  # noqa: E402
from mlplab.models.classifier import MLPClassifier  # noqa: E402

OURS, RAW = "src/train.py's update", "raw backward, raw step"
BACKWARD_ONLY, STEP_ONLY = "manual_backward, raw step", "raw backward, Lightning's step"
WAYS = (OURS, RAW, BACKWARD_ONLY, STEP_ONLY)


def taking_turns(model_class: type[MLPClassifier]) -> type[MLPClassifier]:
    """The model class whose training steps rotate through WAYS, timing each update.

    Every way runs MLPClassifier's own training_step; only the two calls it makes through Lightning,
    `manual_backward` and the optimiser from `optimizers()`, are swapped for the raw ones.
    """

    class TakingTurns(model_class):
        def __init__(self, **settings: object) -> None:
            super().__init__(**settings)
            self.seconds: dict[str, list[tuple[int, float]]] = {way: [] for way in WAYS}
            self.way = OURS  # outside training steps (e.g. at the epoch's end) Lightning's calls are used

        def training_step(self, batch: Batch | StepBatches, batch_idx: int) -> torch.Tensor:
            self.way = WAYS[batch_idx % len(WAYS)]
            started = time.perf_counter()
            loss = super().training_step(batch, batch_idx)
            per_update = (time.perf_counter() - started) / len(minibatches(batch))
            self.seconds[self.way].append((self.current_epoch, per_update))
            self.way = OURS
            return loss

        def manual_backward(self, loss: torch.Tensor, *args: object, **kwargs: object) -> None:
            if self.way in (OURS, BACKWARD_ONLY):
                super().manual_backward(loss, *args, **kwargs)
            else:
                loss.backward(*args, **kwargs)

        def optimizers(self, use_pl_optimizer: bool = True) -> object:
            wrapped = super().optimizers(use_pl_optimizer)
            return wrapped if self.way in (OURS, STEP_ONLY) else wrapped.optimizer

    return TakingTurns


def run(overrides: list[str]) -> MLPClassifier:
    """Train src/train.py's config with these overrides, its steps taking turns; return the trained model."""
    register_configs()
    with tempfile.TemporaryDirectory() as tmp, initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=["trainer.max_epochs=12", *overrides, f"output_dir={tmp}"])
        pl.seed_everything(cfg.seed, verbose=False)
        settings = instantiate(cfg.model, _partial_=True)  # the model class and its arguments, resolved
        model = taking_turns(settings.func)(**settings.keywords)
        callbacks = [instantiate(callback) for callback in cfg.callbacks.values() if callback is not None]
        trainer = instantiate(cfg.trainer, logger=build_loggers(cfg.logger), callbacks=callbacks)
        trainer.fit(model, datamodule=instantiate(cfg.data))
    return model


def medians(model: MLPClassifier) -> dict[str, float]:
    """Each way's median seconds per update, over the steps after the first epoch (which warms up)."""
    return {way: statistics.median(s for epoch, s in model.seconds[way] if epoch > 0) for way in WAYS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("overrides", nargs="*", default=["experiment=chapter_concise"], help="as for src/train.py")
    args = parser.parse_args()
    seconds = medians(run(args.overrides))
    print(f"| {' '.join(args.overrides)}: one update | ms | vs raw |\n|---|---|---|")
    for way, median in seconds.items():
        print(f"| {way} | {median * 1e3:.3f} | {median / seconds[RAW]:.2f}x |")


if __name__ == "__main__":
    main()
