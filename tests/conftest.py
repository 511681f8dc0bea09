"""Shared fixtures: small synthetic Fashion-MNIST files and the real config, shrunk for speed."""

import os
import shutil
import signal
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
from processes import no_process_outlives_its_test, script  # noqa: F401 - an autouse fixture

# A suite started in the background (`make test-full &`, nohup, a CI runner) inherits SIGINT ignored, and
# so would every script it starts; the Ctrl-C tests need what a terminal gives: Ctrl-C raising KeyboardInterrupt.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# Two test workers share two cores: torch in each, and in every script a test starts, uses one thread.
torch.set_num_threads(1)
os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
SYSTEM_DATA = Path("/usr/share/datasets/fashion-mnist")


# The share of images that show another class's band: classes overlap, so no model exceeds about 0.8
# and an accuracy says how well a model learned, not only that it ran.
CONFUSED = 0.2


def make_fake_fashion_mnist(
    folder: Path, n_train: int = 1200, n_test: int = 300, gz: bool = True, classes: int = 10, size: int = 28
) -> Path:
    """Write the four IDX files: each class lights its own band of rows, except a fifth drawn as another class.

    In the MNIST family's layout and names, so the same files stand in for Fashion-MNIST, MNIST or KMNIST;
    `classes` and `size` make a data set of another shape (bands 2 rows apart need size >= 2 * classes + 7).
    """
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("test", n_test)):
        labels = rng.integers(0, classes, size=n).astype(np.uint8)
        shown = np.where(rng.random(n) < CONFUSED, rng.integers(0, classes, size=n), labels)
        images = rng.integers(0, 60, size=(n, size, size)).astype(np.uint8)
        for i, band in enumerate(shown):
            images[i, 2 * band + 4 : 2 * band + 7, 4 : size - 4] = 230
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


def compose_tiny(data_dir: Path, output_dir: Path, *overrides: str) -> DictConfig:
    """The real conf/train.yaml with tiny-run overrides plus these."""
    register_configs()
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        return compose("train", overrides=[*tiny_overrides(data_dir, output_dir), *overrides])


@pytest.fixture
def make_cfg(fake_data: Path, tmp_path: Path) -> Callable[..., DictConfig]:
    """Compose the real conf/train.yaml with tiny-run overrides plus the test's own."""
    return lambda *overrides: compose_tiny(fake_data, tmp_path / "run", *overrides)


@pytest.fixture(scope="session")
def trained_run(fake_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished 2-epoch run on fake_data, made by src/train.py once per test worker; change only a copy of it."""
    run_dir = tmp_path_factory.mktemp("trained") / "run"
    overrides = [o for o in tiny_overrides(fake_data, run_dir) if not o.startswith("output_dir")]
    script("train.py", *overrides, f"hydra.run.dir={run_dir}", "data.normalize=standard", check=True)
    return run_dir


@pytest.fixture
def run_copy(trained_run: Path, tmp_path: Path) -> Path:
    """A copy of the session's finished run, for a test to read, damage or extend."""
    return Path(shutil.copytree(trained_run, tmp_path / "run-copy"))


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
