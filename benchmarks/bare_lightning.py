"""Lightning's own floor: the chapter's concise MLP in a minimal LightningModule, and nothing else.

    python benchmarks/bare_lightning.py --epochs 5

The same in-memory batches, network and update as `benchmarks/plain_loop.py --model concise`, run by
Trainer.fit with no logger, checkpoints, callbacks or metrics, grouped 32 batches per training step as
src/train.py does (data.batches_per_step). What src/train.py costs over this is the project's own;
what this costs over the plain loop is Lightning's loop. Prints one JSON line.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from plain_loop import concise, load
from torch import Tensor

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from mlplab.data.loader import EpochShuffle, InMemoryLoader, StepBatches  # noqa: E402

BATCHES_PER_STEP = 32  # as data.batches_per_step in src/train.py


class Bare(pl.LightningModule):
    """The chapter's step spelled out, as src/train.py's models do: loss, zero_grad, backward, step."""

    def __init__(self) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.net, _ = concise()

    def training_step(self, batch: StepBatches, batch_idx: int) -> Tensor:
        optimizer = self.optimizers()
        for images, labels in batch:
            loss = F.cross_entropy(self.net(images), labels)
            optimizer.zero_grad()
            self.manual_backward(loss)
            optimizer.step()
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.5)


class EpochSeconds(pl.Callback):
    def __init__(self) -> None:
        self.seconds: list[float] = []

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.started = time.perf_counter()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.seconds.append(time.perf_counter() - self.started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--data", type=Path, default=Path("/usr/share/datasets/fashion-mnist"))
    args = parser.parse_args()
    images = load(args.data, "train-images-idx3-ubyte", 16).reshape(-1, 28, 28).float() / 255
    labels = load(args.data, "train-labels-idx1-ubyte", 8).long()
    torch.manual_seed(42)
    timer = EpochSeconds()
    trainer = pl.Trainer(
        max_epochs=args.epochs,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[timer],
    )
    # src/train.py's loader over the plain loop's batches: seed 0 shuffles each epoch as plain_loop.py does.
    batches = InMemoryLoader(images, labels, 256, EpochShuffle(len(images), True, seed=0), BATCHES_PER_STEP)
    trainer.fit(Bare(), train_dataloaders=batches)
    print(json.dumps({"epoch_seconds": timer.seconds}))


if __name__ == "__main__":
    main()
