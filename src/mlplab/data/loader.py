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


def minibatches(batch: Batch | list[Batch]) -> list[Batch]:
    """The minibatches of one training step: a list of them when batches_per_step > 1, else one batch."""
    return batch if isinstance(batch, list) else [batch]


class InMemoryLoader:
    """Yields (images, labels) batches by indexing whole tensors; Lightning accepts any sized iterable.

    With batches_per_step k > 1 it yields lists of k consecutive batches instead (the last list may
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

    def __iter__(self) -> Iterator[Batch | list[Batch]]:
        indices = self.sampler.indices().to(self.images.device)
        per_step = self.batch_size * self.batches_per_step
        for start in range(0, len(indices), per_step):
            step = indices[start : start + per_step].split(self.batch_size)
            # index_select copies whole rows; images[b] gathers element by element, 2-5x slower on a CPU.
            batches = [(self.images.index_select(0, b), self.labels.index_select(0, b)) for b in step]
            yield batches[0] if self.batches_per_step == 1 else batches
