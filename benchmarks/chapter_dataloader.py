"""The chapter's input pipeline: torchvision's FashionMNIST with ToTensor, through a DataLoader.

    python benchmarks/chapter_dataloader.py --epochs 3

Trains the same MLP as benchmarks/plain_loop.py, but each batch is built image by image (PIL,
ToTensor, collate), as the textbook does. Prints one JSON line of per-epoch training times.
"""

import argparse
import gzip
import json
import shutil
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader
from torchvision import datasets, transforms


def torchvision_layout(system: Path, root: Path) -> None:
    """Put the IDX files where torchvision's FashionMNIST looks: <root>/FashionMNIST/raw, uncompressed."""
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for gz in system.glob("*-ubyte.gz"):
        with gzip.open(gz) as source, (raw / gz.stem).open("wb") as target:
            shutil.copyfileobj(source, target)


def main() -> None:
    """Train with the chapter's DataLoader and print the per-epoch training times."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    parser.add_argument("--data", type=Path, default=Path("/usr/share/datasets/fashion-mnist"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        torchvision_layout(args.data, Path(root))
        dataset = datasets.FashionMNIST(root, train=True, transform=transforms.ToTensor(), download=False)
        loader = DataLoader(dataset, batch_size=256, shuffle=True, num_workers=args.workers)
        torch.manual_seed(42)
        net = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
        optimizer = torch.optim.SGD(net.parameters(), lr=0.5)
        epoch_seconds = []
        for _ in range(args.epochs):
            started = time.perf_counter()
            for images, labels in loader:
                loss = F.cross_entropy(net(images), labels)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            epoch_seconds.append(time.perf_counter() - started)
    print(json.dumps({"epoch_seconds": epoch_seconds}))


if __name__ == "__main__":
    main()
