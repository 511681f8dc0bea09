"""The data module on synthetic IDX files: where it looks, what it decodes, how it splits and batches."""

import gzip
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from lightning_fabric.utilities.apply_func import move_data_to_device
from pytorch_lightning.plugins.precision import HalfPrecision

from conftest import make_fake_fashion_mnist
from mlplab.data import FashionMNISTDataModule, datamodule, idx
from mlplab.data.datamodule import _pixel_mean_std
from mlplab.data.idx import read_idx, write_idx
from mlplab.data.loader import EpochShuffle, InMemoryLoader, StepBatches
from mlplab.data.locate import FILES, DataSource, locate
from mlplab.errors import DataError


def _datamodule(data_dir: Path, **kwargs: object) -> FashionMNISTDataModule:
    settings = {"system_dir": "/nonexistent", "download": False, "batch_size": 100, "val_size": 200, "seed": 0}
    datamodule = FashionMNISTDataModule(str(data_dir), **(settings | kwargs))
    datamodule.setup("fit")
    return datamodule


def test_splits_have_the_configured_sizes_shapes_and_dtypes(fake_data: Path) -> None:
    dm = _datamodule(fake_data)
    sizes = {name: len(x) for name, (x, _) in dm.splits.items()}
    assert sizes == {"train": 1000, "val": 200, "test": 300}
    images, labels = next(iter(dm.train_dataloader()))
    assert images.shape == (100, 28, 28) and images.dtype == torch.float32
    assert labels.shape == (100,) and labels.dtype == torch.int64
    assert images.min() >= 0.0 and images.max() <= 1.0
    assert len(dm.train_dataloader()) == 10 and sum(len(y) for _, y in dm.train_dataloader()) == 1000


def test_validation_and_test_batches_have_eval_batch_size_and_training_keeps_batch_size(fake_data: Path) -> None:
    dm = _datamodule(fake_data, eval_batch_size=128)
    assert [len(y) for _, y in dm.val_dataloader()] == [128, 72]  # 200 validation images
    assert [len(y) for _, y in dm.test_dataloader()] == [128, 128, 44]  # 300 test images
    assert {len(y) for _, y in dm.train_dataloader()} == {100}
    torch.testing.assert_close(torch.cat([x for x, _ in dm.test_dataloader()]), dm.splits["test"][0])


def test_split_is_seeded_and_disjoint(fake_data: Path) -> None:
    a, b, c = _datamodule(fake_data, seed=0), _datamodule(fake_data, seed=0), _datamodule(fake_data, seed=1)
    torch.testing.assert_close(a.splits["val"][0], b.splits["val"][0])
    assert not torch.equal(a.splits["val"][0], c.splits["val"][0])
    # Exactly the decoded images in the seed's order: the first val_size of it validate, the rest train.
    order = torch.randperm(1200, generator=torch.Generator().manual_seed(0))
    images = read_idx(a.files["train_images"], ndim=3).float() / 255
    assert torch.equal(a.splits["val"][0], images[order[:200]]) and torch.equal(
        a.splits["train"][0], images[order[200:]]
    )
    train_rows = {tuple(row.flatten().tolist()[:64]) for row in a.splits["train"][0]}
    assert not any(tuple(row.flatten().tolist()[:64]) in train_rows for row in a.splits["val"][0])


def test_val_size_zero_validates_on_the_test_set_like_the_chapter(fake_data: Path) -> None:
    dm = _datamodule(fake_data, val_size=0)
    assert dm.val_is_test and len(dm.splits["train"][0]) == 1200
    val_images = torch.cat([x for x, _ in dm.val_dataloader()])
    torch.testing.assert_close(val_images, dm.splits["test"][0])


def test_standardised_inputs_have_zero_mean_and_unit_std_on_the_training_split(fake_data: Path) -> None:
    train_x = _datamodule(fake_data, normalize="standard").splits["train"][0]
    assert abs(train_x.mean().item()) < 1e-4 and abs(train_x.std().item() - 1) < 1e-4


def test_a_checkpoints_scaling_loaded_before_setup_is_what_the_test_images_get(fake_data: Path) -> None:
    trained = _datamodule(fake_data, normalize="standard")
    settings = {"system_dir": "/nonexistent", "download": False, "batch_size": 100, "val_size": 200, "seed": 0}
    restored = FashionMNISTDataModule(str(fake_data), normalize="standard", **settings)
    restored.load_state_dict({"mean": 0.5, "std": 0.25})  # as eval and predict load a checkpoint's
    restored.setup("test")
    assert (restored.mean, restored.std) == (0.5, 0.25), "not computed again from the training images"
    raw = trained.splits["test"][0] * trained.std + trained.mean
    torch.testing.assert_close(restored.splits["test"][0], (raw - 0.5) / 0.25)


def test_pixel_statistics_from_the_histogram_equal_the_direct_float64_ones() -> None:
    images = torch.randint(0, 256, (50, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    pixels = images.double() / 255
    mean, std = _pixel_mean_std(images)
    assert mean == pytest.approx(pixels.mean().item(), rel=1e-12)
    assert std == pytest.approx(pixels.std().item(), rel=1e-12)


def test_shuffle_depends_only_on_seed_and_epoch() -> None:
    first, again = EpochShuffle(50, True, seed=7), EpochShuffle(50, True, seed=7)
    epoch0 = first.indices()
    torch.testing.assert_close(epoch0, again.indices())
    first.set_epoch(1)
    assert not torch.equal(epoch0, first.indices())
    assert sorted(first.indices().tolist()) == list(range(50))


def test_rank_shards_are_disjoint_equal_sized_and_cover_the_epoch() -> None:
    shards = [EpochShuffle(101, True, seed=3, rank=r, world_size=4).indices() for r in range(4)]
    assert {len(s) for s in shards} == {25}
    together = torch.cat(shards).tolist()
    assert len(set(together)) == 100 and set(together) <= set(range(101))


def test_grouped_loader_yields_the_same_batches_in_lists_of_k() -> None:
    images, labels = torch.arange(10.0).reshape(10, 1), torch.arange(10)
    single = InMemoryLoader(images, labels, 3, EpochShuffle(10, True, seed=5))
    grouped = InMemoryLoader(images, labels, 3, EpochShuffle(10, True, seed=5), batches_per_step=2)
    batches, groups = list(single), list(grouped)
    assert (len(single), len(grouped)) == (4, 2) == (len(batches), len(groups))
    assert [len(group) for group in groups] == [2, 2], "4 batches of 3, 3, 3 and 1 image, two per step"
    for (x, y), (gx, gy) in zip(batches, [b for group in groups for b in group], strict=True):
        assert torch.equal(x, gx) and torch.equal(y, gy)


def test_lightning_hands_a_grouped_step_on_without_slicing_it() -> None:
    """What keeps the slicing lazy: Lightning's device move and input conversion pass a StepBatches through."""
    images, labels = torch.arange(10.0).reshape(10, 1), torch.arange(10)
    step = next(iter(InMemoryLoader(images, labels, 3, EpochShuffle(10, True, seed=5), batches_per_step=2)))
    assert isinstance(step, StepBatches)
    assert move_data_to_device(step, torch.device("cpu")) is step
    assert HalfPrecision("16-true").convert_input(step) is step


def test_raw_files_in_torchvisions_layout_are_found(tmp_path: Path) -> None:
    raw = make_fake_fashion_mnist(tmp_path / "FashionMNIST" / "raw", n_train=20, n_test=10, gz=False)
    files = locate(DataSource(), tmp_path, Path("/nonexistent"), download=False)
    assert files["train_images"] == raw / FILES["train_images"]
    assert len(_datamodule(tmp_path, val_size=5).splits["train"][0]) == 15


def test_missing_data_says_what_was_tried_and_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"not found; tried: .*nonexistent.*make data"):
        locate(DataSource(), tmp_path, Path("/nonexistent"), download=False)


def test_truncated_gzip_is_reported_by_name(tmp_path: Path) -> None:
    folder = make_fake_fashion_mnist(tmp_path / "d", n_train=20, n_test=10)
    path = folder / (FILES["train_images"] + ".gz")
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match=f"{path}: cannot be read"):
        _datamodule(folder, val_size=5)


def test_gzip_with_damaged_compressed_bytes_is_reported_by_name(tmp_path: Path) -> None:
    folder = make_fake_fashion_mnist(tmp_path / "d", n_train=20, n_test=10)
    path = folder / (FILES["train_images"] + ".gz")
    data = bytearray(path.read_bytes())
    data[20:60] = bytes(range(40))  # inside the deflate stream, past the 10-byte gzip header
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match=f"{path}: cannot be read"):
        _datamodule(folder, val_size=5)


def test_idx_with_fewer_bytes_than_its_header_promises_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "images.gz"
    write_idx(path, np.zeros((4, 28, 28), dtype=np.uint8))
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:-28]))
    with pytest.raises(DataError, match="truncated or damaged"):
        read_idx(path, ndim=3)


def test_a_file_read_again_in_one_process_is_decoded_afresh_once_it_has_changed(tmp_path: Path) -> None:
    # A sweep's jobs in one process share what was decoded; a file replaced or rewritten since is read again.
    path = tmp_path / "images"
    write_idx(path, np.zeros((4, 28, 28), dtype=np.uint8))
    assert int(read_idx(path, ndim=3).sum()) == 0
    assert read_idx(path, ndim=3) is read_idx(path, ndim=3), "the same file: decoded once"
    replacement = tmp_path / "new"
    write_idx(replacement, np.ones((4, 28, 28), dtype=np.uint8))
    replacement.replace(path)  # another file under the same name
    assert int(read_idx(path, ndim=3).sum()) == 4 * 28 * 28
    write_idx(path, np.full((5, 28, 28), 2, dtype=np.uint8))  # rewritten in place, another size
    assert int(read_idx(path, ndim=3).sum()) == 2 * 5 * 28 * 28
    stat = path.stat()
    time.sleep(0.05)  # the kernel's clock for file times ticks every few milliseconds
    write_idx(path, np.full((5, 28, 28), 3, dtype=np.uint8))  # in place, the same size,
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the old modification time, as tar or cp -p set
    assert int(read_idx(path, ndim=3).sum()) == 3 * 5 * 28 * 28


def test_data_modules_of_one_process_share_splits_made_from_the_same_files_split_and_scaling(
    fake_data: Path, tmp_path: Path
) -> None:
    first, again = _datamodule(fake_data), _datamodule(fake_data)  # a sweep's jobs on the same data
    assert all(again.splits[name][0] is first.splits[name][0] for name in ("train", "val", "test")), "made once"
    made = first.splits["train"][0]
    assert _datamodule(fake_data, seed=1).splits["train"][0] is not made
    assert _datamodule(fake_data, val_size=100).splits["train"][0] is not made
    standard = _datamodule(fake_data, normalize="standard")
    assert standard.splits["train"][0] is not made and standard.mean != 0.0
    restored = FashionMNISTDataModule(str(fake_data), system_dir="/nonexistent", download=False, val_size=200)
    restored.load_state_dict({"mean": 0.5, "std": 0.25})  # a checkpoint's scaling: not the one computed
    restored.setup("test")
    torch.testing.assert_close(restored.splits["test"][0], (first.splits["test"][0] - 0.5) / 0.25)
    # Another copy of the files with one image changed: its splits are its own.
    copy = Path(shutil.copytree(fake_data, tmp_path / "copy"))
    images = read_idx(copy / "train-images-idx3-ubyte.gz", ndim=3).numpy().copy()
    images[0] = 255
    write_idx(copy / "train-images-idx3-ubyte.gz", images)
    changed = _datamodule(copy).splits
    assert not torch.equal(
        torch.cat([changed["train"][0], changed["val"][0]]), torch.cat([made, first.splits["val"][0]])
    )
    assert torch.equal(_datamodule(fake_data).splits["train"][0], made), "the first files' splits again, equal"


def test_a_file_replaced_while_a_job_reads_it_leaves_the_next_job_the_new_files_splits(
    fake_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = Path(shutil.copytree(fake_data, tmp_path / "data"))
    labels = folder / "train-labels-idx1-ubyte.gz"
    other = tmp_path / "other-labels.gz"
    write_idx(other, (read_idx(labels, ndim=1).numpy() + 1) % 10)  # the same size, other labels
    record = datamodule.record_data_files

    def replaced_while_read(*args: object) -> None:  # after the files are read, before the job goes on
        os.replace(other, labels)
        record(*args)

    job = FashionMNISTDataModule(str(folder), system_dir="/nonexistent", download=False, val_size=200)
    job.run_dir = tmp_path  # a job's: it records the files it read
    with monkeypatch.context() as patch:
        patch.setattr(datamodule, "record_data_files", replaced_while_read)
        job.setup("fit")  # read the old labels
    assert not other.exists(), "replaced during the job's setup"
    after = _datamodule(folder)  # the next job, on the new labels
    monkeypatch.setattr(datamodule, "_splits_made", {})
    monkeypatch.setattr(idx, "_decoded", {})
    alone = _datamodule(folder)  # the same files read in a process of its own
    assert all(torch.equal(after.splits[name][1], alone.splits[name][1]) for name in ("train", "val", "test"))


def test_labels_file_given_as_images_is_rejected_by_its_magic_number(tmp_path: Path) -> None:
    path = tmp_path / "labels"
    write_idx(path, np.zeros(10, dtype=np.uint8))
    with pytest.raises(DataError, match="magic number 0x00000801 is not that of a 3-d IDX file"):
        read_idx(path, ndim=3)


def test_val_size_as_large_as_the_training_set_is_refused(fake_data: Path) -> None:
    with pytest.raises(DataError, match="data.val_size=1200 leaves no training images"):
        _datamodule(fake_data, val_size=1200)


def test_a_data_module_outside_a_run_writes_no_record_anywhere(
    fake_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    datamodule = _datamodule(fake_data)
    datamodule.trainer = pl.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False)
    datamodule.setup("fit")
    assert datamodule.splits and list(tmp_path.iterdir()) == [], "no data.json in the working directory"
