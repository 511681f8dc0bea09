"""IdxDataModule: an image data set in IDX files, decoded once into tensors, batches sliced from memory.

conf/data/ names each data set (fashion_mnist, mnist, kmnist) with its files, classes and image size.
"""

from collections.abc import Mapping, Sequence
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.plugins.precision import MixedPrecision

from mlplab.config import FASHION_MNIST_CLASSES
from mlplab.data.idx import file_identity, read_idx
from mlplab.data.loader import EpochShuffle, InMemoryLoader
from mlplab.data.locate import FILES, DataSource, locate
from mlplab.data.provenance import record_data_files
from mlplab.errors import DataError

CLASSES = FASHION_MNIST_CLASSES
SYSTEM_DIR = "/usr/share/datasets/fashion-mnist"

# A sweep's jobs run one after another in one process, most of them on the same files, split and
# scaling: the splits are made once (65 ms a job) and shared. Nothing writes into them: every batch a
# model gets is a copy (loader.rows), and a changed file, split or scaling makes new ones.
_splits_made: dict[tuple, tuple[dict[str, tuple[torch.Tensor, torch.Tensor]], float, float]] = {}


class IdxDataModule(pl.LightningDataModule):
    """A data set of IDX files as in-memory tensors, with a seeded validation split carved from the training set."""

    def __init__(
        self,
        data_dir: str | None = None,
        system_dir: str | None = SYSTEM_DIR,
        download: bool = True,
        batch_size: int = 256,
        batches_per_step: int = 1,
        eval_batch_size: int = 2500,
        val_size: int = 5000,
        normalize: str = "unit",
        seed: int = 0,
        name: str = "Fashion-MNIST",
        classes: Sequence[str] = CLASSES,
        image_size: Sequence[int] = (28, 28),
        files: Mapping[str, str] | None = None,
        published_md5: Mapping[str, str] | None = None,
        torchvision_dataset: str | None = "FashionMNIST",
    ) -> None:
        super().__init__()
        self.source = DataSource(name, dict(files or FILES), torchvision_dataset, dict(published_md5 or {}))
        self.classes, self.image_size = tuple(classes), tuple(image_size)
        # Without a data_dir of its own, the project's data/ is searched and downloaded into.
        self.data_dir, self.system_dir = Path(data_dir or "data"), Path(system_dir) if system_dir else None
        self.explicit_dir = data_dir is not None  # the user's own folder: used alone, never swapped for another
        self.files: dict[str, Path] = {}
        self.download = download
        self.batch_size, self.batches_per_step, self.val_size = batch_size, batches_per_step, val_size
        self.eval_batch_size = eval_batch_size
        self.normalize, self.seed = normalize, seed
        self.splits: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self.mean, self.std = 0.0, 1.0  # of the training pixels in [0, 1] when normalize is "standard"
        self.scaling_restored = False  # a checkpoint's scaling loaded before setup(): kept, not computed again
        self.run_dir: Path | None = None  # set by train(): where data.json goes; None: no record is written

    @property
    def val_is_test(self) -> bool:
        """With no validation split the test set is evaluated every epoch, as in the chapter."""
        return self.val_size == 0

    def prepare_data(self) -> None:
        # Lightning calls this on one process only: the place for a download.
        locate(self.source, self.data_dir, self.system_dir, self.download and not self.explicit_dir, self.explicit_dir)

    def located_files(self) -> dict[str, Path]:
        """The four files this data module reads, found as setup() finds them (no download)."""
        return locate(self.source, self.data_dir, self.system_dir, False, self.explicit_dir)

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        self.files = files = self.located_files()
        # Before reading: splits made from files replaced while they are read are kept under the
        # replaced files' identity, which no later job can have.
        key = self._splits_key(files)
        train_x, train_y = self._decode(files["train_images"], files["train_labels"])
        test_x, test_y = self._decode(files["test_images"], files["test_labels"])
        if self.run_dir is not None and (self.trainer is None or self.trainer.is_global_zero):
            record_data_files(files, self.run_dir, self.source)
        if len(test_x) == 0:
            raise DataError(f"{files['test_images']} holds no images; the test set cannot be empty")
        if self.val_size >= len(train_x):
            raise DataError(
                f"data.val_size={self.val_size} leaves no training images; the training set has {len(train_x)}"
            )
        if key not in _splits_made:
            _splits_made.clear()  # one data set's splits at a time: Fashion-MNIST's float images are 220 MB
            _splits_made[key] = self._split_and_scale(train_x, train_y, test_x, test_y)
        splits, self.mean, self.std = _splits_made[key]
        self.splits = dict(splits)

    def _splits_key(self, files: dict[str, Path]) -> tuple | None:
        """What the splits are made from: the files (as read_idx tells them apart), split, scaling and trainer.

        None where a file cannot be looked at: reading it says why.
        """
        try:
            identities = tuple(file_identity(files[key]) for key in sorted(files))
        except OSError:
            return None
        restored = (self.mean, self.std) if self.scaling_restored else None
        trainer = self.trainer
        feeds = None if trainer is None else (str(trainer.strategy.root_device), trainer.precision_plugin.precision)
        return identities, self.val_size, self.seed, self.normalize, restored, feeds

    def _split_and_scale(
        self, train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor
    ) -> tuple[dict[str, tuple[torch.Tensor, torch.Tensor]], float, float]:
        """The seeded validation split, each split scaled and fed as the trainer wants; the scaling used."""
        order = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(self.seed))
        val_idx, train_idx = order[: self.val_size], order[self.val_size :]
        # index_select copies whole rows; train_x[train_idx] gathers byte by byte, 3x slower (30 ms a job).
        train_x, val_x = train_x.index_select(0, train_idx), train_x.index_select(0, val_idx)
        train_y, val_y = train_y.index_select(0, train_idx), train_y.index_select(0, val_idx)
        if self.normalize == "standard" and not self.scaling_restored:
            self.mean, self.std = _pixel_mean_std(train_x)  # the training split only: nothing of val or test leaks in
        splits = {}
        for name, x, y in (("train", train_x, train_y), ("val", val_x, val_y), ("test", test_x, test_y)):
            splits[name] = (self._as_trainer_feeds(self.scale(x)), self._as_trainer_feeds(y))
        return splits, self.mean, self.std

    def scale(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images as the model saw them in training: in [0, 1], standardised if configured."""
        return self.standardize(images.float().div_(255))  # in place on the new copy

    def standardize(self, images: torch.Tensor) -> torch.Tensor:
        """Float images in [0, 1], standardised in place if configured."""
        if (self.mean, self.std) == (0.0, 1.0):
            return images  # subtracting 0 and dividing by 1: two passes over 190 MB that change nothing
        return images.sub_(self.mean).div_(self.std)

    def _as_trainer_feeds(self, data: torch.Tensor) -> torch.Tensor:
        """On the trainer's device and in its precision's input dtype, once for the whole split.

        Lightning converts each batch it is handed, but not the minibatches a StepBatches slices later.
        Under mixed precision the images are kept in autocast's dtype: both models' first operation on
        them is a matrix product, which autocast would cast every batch to that dtype for anyway. The
        same numbers, with half the bytes to slice and no cast per update (7% of an update for
        experiment=fast on this CPU).
        """
        if self.trainer is None:
            return data
        plugin = self.trainer.precision_plugin
        dtype = data.dtype
        if isinstance(plugin, MixedPrecision) and data.is_floating_point():
            dtype = plugin.autocast_context_manager().fast_dtype
        return plugin.convert_input(data.to(self.trainer.strategy.root_device, dtype))

    def state_dict(self) -> dict[str, float]:
        # Saved in every checkpoint, so prediction needs the checkpoint only, not the training data.
        return {"mean": self.mean, "std": self.std}

    def load_state_dict(self, state_dict: dict[str, float]) -> None:
        # Before setup() (evaluation, prediction) the scaling a model was trained with is what its inputs get,
        # whatever the training files hold now; a resume restores it after setup, on the same data.
        self.mean, self.std = state_dict["mean"], state_dict["std"]
        self.scaling_restored = not self.splits

    def _loader(self, split: str, shuffle: bool, batch_size: int, batches_per_step: int = 1) -> InMemoryLoader:
        images, labels = self.splits[split]
        rank, world = (self.trainer.global_rank, self.trainer.world_size) if self.trainer is not None else (0, 1)
        sampler = EpochShuffle(len(images), shuffle, self.seed, rank, world)
        return InMemoryLoader(images, labels, batch_size, sampler, batches_per_step)

    def train_dataloader(self) -> InMemoryLoader:
        # Only training groups batches: one SGD update each, several per Lightning step.
        overfit = self.trainer is not None and self.trainer.overfit_batches > 0  # the same batches every epoch
        return self._loader("train", not overfit, self.batch_size, self.batches_per_step)

    def val_dataloader(self) -> InMemoryLoader:
        return self._loader("test" if self.val_is_test else "val", False, self.eval_batch_size)

    def test_dataloader(self) -> InMemoryLoader:
        return self._loader("test", False, self.eval_batch_size)

    def _decode(self, images_path: Path, labels_path: Path) -> tuple[torch.Tensor, torch.Tensor]:
        """Images as uint8 of shape (N, rows, columns), labels as int64; counts, sizes and labels must fit."""
        images, labels = read_idx(images_path, ndim=3), read_idx(labels_path, ndim=1)
        rows, columns = self.image_size
        if tuple(images.shape[1:]) != (rows, columns):
            raise DataError(
                f"{images_path} holds {images.shape[2]}x{images.shape[1]} images; {self.source.name}'s are "
                f"{columns}x{rows} (data.image_size)"
            )
        if len(images) != len(labels):
            raise DataError(f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels")
        if labels.numel() and int(labels.max()) >= len(self.classes):
            raise DataError(f"{labels_path}: label {int(labels.max())} is outside 0..{len(self.classes) - 1}")
        return images, labels.long()


class FashionMNISTDataModule(IdxDataModule):
    """Fashion-MNIST: what run folders made before data sets were a config group name; it still builds them."""


def _pixel_mean_std(images: torch.Tensor) -> tuple[float, float]:
    """Mean and (unbiased) standard deviation of uint8 images scaled to [0, 1].

    Counted from a histogram of the 256 pixel values, in float64: exact, and without the float
    copy of the whole training set (190 MB) that Tensor.mean and Tensor.std would need.
    """
    counts = torch.bincount(images.flatten(), minlength=256).double()
    values = torch.arange(256, dtype=torch.float64) / 255
    n = counts.sum()
    mean = (counts * values).sum() / n
    variance = (counts * (values - mean) ** 2).sum() / (n - 1)
    return mean.item(), variance.sqrt().item()
