"""Shared fixtures: small synthetic Fashion-MNIST files and the real config, shrunk for speed."""

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from mlplab.config import register_configs
from mlplab.data.idx import write_idx
from mlplab.data.locate import FILES
from mlplab.models import ConciseMLP, ScratchMLP

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
SYSTEM_DATA = Path("/usr/share/datasets/fashion-mnist")


def make_fake_fashion_mnist(folder: Path, n_train: int = 1200, n_test: int = 300, gz: bool = True) -> Path:
    """Write the four IDX files with images a small MLP can learn: each class lights its own band of rows."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("test", n_test)):
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        images = rng.integers(0, 60, size=(n, 28, 28)).astype(np.uint8)
        for i, label in enumerate(labels):
            images[i, 2 * label + 4 : 2 * label + 7, 4:24] = 230
        suffix = ".gz" if gz else ""
        write_idx(folder / (FILES[f"{split}_images"] + suffix), images)
        write_idx(folder / (FILES[f"{split}_labels"] + suffix), labels)
    return folder


@pytest.fixture(scope="session")
def fake_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with synthetic gzipped IDX files: 1200 training and 300 test images."""
    return make_fake_fashion_mnist(tmp_path_factory.mktemp("fake-fashion-mnist"))


def tiny_overrides(data_dir: Path, output_dir: Path) -> list[str]:
    """Overrides that point a run at synthetic data and a temporary folder, with a small budget."""
    return [
        f"data.data_dir={data_dir}",
        "data.system_dir=/nonexistent",
        "data.download=false",
        "data.batch_size=64",
        "data.val_size=200",
        "trainer.max_epochs=2",
        f"output_dir={output_dir}",
    ]


@pytest.fixture
def make_cfg(fake_data: Path, tmp_path: Path) -> Callable[..., DictConfig]:
    """Compose the real conf/train.yaml with tiny-run overrides plus the test's own."""
    register_configs()

    def _make(*overrides: str) -> DictConfig:
        with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
            return compose("train", overrides=[*tiny_overrides(fake_data, tmp_path / "run"), *overrides])

    return _make


needs_real_data = pytest.mark.skipif(
    not (SYSTEM_DATA / "train-images-idx3-ubyte.gz").exists() and not (ROOT / "data").exists(),
    reason="the real Fashion-MNIST is not installed (run `make data`)",
)


def copy_scratch_into_concise(scratch: ScratchMLP, concise: ConciseMLP) -> None:
    """Give the concise model the scratch model's weights (nn.Linear stores W transposed)."""
    linears = [m for m in concise.net if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        for i, linear in enumerate(linears, start=1):
            W, b = scratch.layer(i)
            linear.weight.copy_(W.T)
            linear.bias.copy_(b)
