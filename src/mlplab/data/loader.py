"""Batches sliced from tensors already in memory (or on the GPU): no per-sample work at all."""

from collections.abc import Iterator

import torch


class EpochShuffle:
    """A seeded permutation per epoch, sharded by rank like torch's DistributedSampler.

    Unlike DistributedSampler it never pads with repeated samples: every rank gets the same
    number of distinct indices (at most world_size - 1 samples sit out an epoch), so ranks
    run the same number of steps and the shards never overlap.
    """

    def __init__(self, size: int, shuffle: bool, seed: int, rank: int = 0, world_size: int = 1) -> None:
        self.size, self.shuffle, self.seed = size, shuffle, seed
        self.rank, self.world_size = rank, world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning before each epoch; the order depends only on (seed, epoch)."""
        self.epoch = epoch

    def __len__(self) -> int:
        """How many indices each rank gets per epoch."""
        return self.size // self.world_size

    def indices(self) -> torch.Tensor:
        """This rank's indices for the current epoch."""
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.size, generator=generator)
        else:
            order = torch.arange(self.size)
        return order[self.rank :: self.world_size][: len(self)]


Batch = tuple[torch.Tensor, torch.Tensor]


def rows(images: torch.Tensor, labels: torch.Tensor, indices: torch.Tensor) -> Batch:
    """The batch of these sample indices."""
    # index_select copies whole rows; images[b] gathers element by element, 2-5x slower on a CPU.
    return images.index_select(0, indices), labels.index_select(0, indices)


class StepBatches:
    """The minibatches of one training step (data.batches_per_step > 1), each sliced when the step reaches it.

    Slicing all k at once would leave k * 800 KB of images waiting, more than a CPU's cache holds:
    every update would read its batch back from memory, 2-4% of an epoch. Not a list or a tuple on
    purpose: Lightning rebuilds those to move and convert their tensors, which would slice them all,
    and passes anything else on as it is. The data module keeps the images on the device already,
    in the dtype the trainer's precision wants.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, indices: tuple[torch.Tensor, ...]) -> None:
        self.images, self.labels, self.indices = images, labels, indices

    def __len__(self) -> int:
        return len(self.indices)

    def __iter__(self) -> Iterator[Batch]:
        for batch in self.indices:
            yield rows(self.images, self.labels, batch)


def minibatches(batch: Batch | StepBatches) -> StepBatches | list[Batch]:
    """The minibatches of one training step: a StepBatches when batches_per_step > 1, else the one batch."""
    return [batch] if isinstance(batch, tuple) else batch


class InMemoryLoader:
    """Yields (images, labels) batches by indexing whole tensors; Lightning accepts any sized iterable.

    With batches_per_step k > 1 it yields StepBatches of k consecutive batches instead (the last may
    be shorter), for a training step that makes one SGD update per batch: the same updates in the
    same order, with Lightning's per-step bookkeeping paid once per k updates.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        batch_size: int,
        sampler: EpochShuffle,
        batches_per_step: int = 1,
    ) -> None:
        self.images, self.labels = images, labels
        self.batch_size, self.batches_per_step = batch_size, batches_per_step
        # Lightning looks for DataLoader's two attributes: it calls sampler.set_epoch each epoch.
        self.sampler, self.batch_sampler = sampler, None

    def __len__(self) -> int:
        batches = -(-len(self.sampler) // self.batch_size)  # the last batch may be short
        return -(-batches // self.batches_per_step)

    def __iter__(self) -> Iterator[Batch | StepBatches]:
        indices = self.sampler.indices().to(self.images.device)
        per_step = self.batch_size * self.batches_per_step
        for start in range(0, len(indices), per_step):
            step = indices[start : start + per_step].split(self.batch_size)
            if self.batches_per_step == 1:
                yield rows(self.images, self.labels, step[0])
            else:
                yield StepBatches(self.images, self.labels, step)
