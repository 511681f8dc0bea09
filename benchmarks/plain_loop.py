"""The floor: the chapter's MLP trained by a hand-written PyTorch loop over in-memory tensors.

    python benchmarks/plain_loop.py --model concise --epochs 5

Does what `src/train.py experiment=chapter_<model>` does (60k training images, batch 256, test
accuracy every epoch; concise: nn.Sequential and SGD lr 0.5; scratch: W1, b1, W2, b2, ReLU as
max(x, 0) and p -= lr * grad with lr 100/256) with nothing else, and prints one JSON line of timings.
"""

import argparse
import gzip
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def load(folder: Path, stem: str, offset: int) -> torch.Tensor:
    """An IDX file's payload as a uint8 tensor (its header is `offset` bytes)."""
    payload = bytearray(gzip.decompress((folder / f"{stem}.gz").read_bytes()))  # writable, as torch wants
    return torch.from_numpy(np.frombuffer(payload, np.uint8, offset=offset))


def shuffled_batches(images: torch.Tensor, labels: torch.Tensor, epoch: int) -> Iterator[tuple[torch.Tensor, ...]]:
    """Batches of 256 sliced from whole tensors, in an order that depends only on the epoch."""
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(epoch))
    for start in range(0, len(order), 256):
        batch = order[start : start + 256]
        yield images.index_select(0, batch), labels.index_select(0, batch)  # as src/mlplab/data/loader.py


ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


def concise(activation: str = "relu") -> tuple[nn.Module, Callable[[], None]]:
    """nn.Sequential with torch.optim.SGD at lr 0.5."""
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), ACTIVATIONS[activation](), nn.Linear(256, 10))
    for layer in (net[1], net[3]):
        nn.init.normal_(layer.weight, std=0.01)
        nn.init.zeros_(layer.bias)
    sgd = torch.optim.SGD(net.parameters(), lr=0.5)

    def step() -> None:
        sgd.step()
        sgd.zero_grad()

    return net, step


def scratch(activation: str = "relu") -> tuple[Callable[[torch.Tensor], torch.Tensor], Callable[[], None]]:
    """The chapter's W1, b1, W2, b2 with a hand-written ReLU (or sigmoid, tanh) and SGD step at lr 100/256.

    The activations are the scratch model's own formulas, so that a sweep over them compares like with like.
    """
    W1, W2 = (torch.randn(784, 256) * 0.01).requires_grad_(), (torch.randn(256, 10) * 0.01).requires_grad_()
    b1, b2 = torch.zeros(256, requires_grad=True), torch.zeros(10, requires_grad=True)

    def sigmoid(x: torch.Tensor) -> torch.Tensor:  # as the scratch model writes it (mlplab.models.activations)
        z = torch.exp(-x.abs())
        return torch.where(x >= 0, 1 / (1 + z), z / (1 + z))

    hand_written = {
        "relu": lambda H: torch.max(H, torch.zeros_like(H)),
        "sigmoid": sigmoid,
        "tanh": lambda H: 2 * sigmoid(2 * H) - 1,
    }

    def net(X: torch.Tensor) -> torch.Tensor:
        H = X.reshape(len(X), -1) @ W1 + b1
        return hand_written[activation](H) @ W2 + b2

    @torch.no_grad()
    def step() -> None:
        for param in (W1, b1, W2, b2):
            param.add_(param.grad, alpha=-100 / 256)
            param.grad.zero_()

    return net, step


def fashion_mnist(folder: Path) -> dict[str, torch.Tensor]:
    """The four files as float images in [0, 1] and integer labels, in memory."""
    return {
        "train_x": load(folder, "train-images-idx3-ubyte", 16).reshape(-1, 28, 28).float() / 255,
        "train_y": load(folder, "train-labels-idx1-ubyte", 8).long(),
        "test_x": load(folder, "t10k-images-idx3-ubyte", 16).reshape(-1, 28, 28).float() / 255,
        "test_y": load(folder, "t10k-labels-idx1-ubyte", 8).long(),
    }


def train(model: str, activation: str, data: dict[str, torch.Tensor], epochs: int) -> dict:
    """Train one model, testing after each epoch as the chapter does; its per-epoch times and test accuracy."""
    torch.manual_seed(42)
    net, optimizer = (concise if model == "concise" else scratch)(activation)
    train_x, train_y = data["train_x"], data["train_y"]
    epoch_seconds = []
    for epoch in range(epochs):
        started = time.perf_counter()
        loss_sum, correct = torch.zeros(()), torch.zeros((), dtype=torch.long)
        for images, labels in shuffled_batches(train_x, train_y, epoch):
            logits = net(images)
            loss = F.cross_entropy(logits, labels)
            loss.backward()
            optimizer()
            loss_sum += loss.detach() * len(labels)
            correct += (logits.argmax(1) == labels).sum()
        epoch_seconds.append(time.perf_counter() - started)
        with torch.no_grad():
            test_acc = (net(data["test_x"]).argmax(1) == data["test_y"]).float().mean().item()
        print(f"epoch {epoch + 1}, loss {loss_sum.item() / len(train_y):.4f}, "
              f"train acc {correct.item() / len(train_y):.3f}, test acc {test_acc:.3f}", flush=True)  # fmt: skip
    return {"epoch_seconds": epoch_seconds, "test_acc": test_acc}


def main() -> None:
    """Train, evaluate each epoch, print the per-epoch training times."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--model", choices=("concise", "scratch"), default="concise")
    parser.add_argument("--activation", choices=tuple(ACTIVATIONS), default="relu")
    parser.add_argument("--data", type=Path, default=Path("/usr/share/datasets/fashion-mnist"))
    args = parser.parse_args()
    print(json.dumps(train(args.model, args.activation, fashion_mnist(args.data), args.epochs)))


if __name__ == "__main__":
    main()
