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


class InMemoryLoader:
    """Yields (images, labels) batches by indexing whole tensors; Lightning accepts any sized iterable."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int, sampler: EpochShuffle) -> None:
        self.images, self.labels = images, labels
        self.batch_size = batch_size
        # Lightning looks for DataLoader's two attributes: it calls sampler.set_epoch each epoch.
        self.sampler, self.batch_sampler = sampler, None

    def __len__(self) -> int:
        return -(-len(self.sampler) // self.batch_size)  # the last batch may be short

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        indices = self.sampler.indices().to(self.images.device)
        for start in range(0, len(indices), self.batch_size):
            batch = indices[start : start + self.batch_size]
            yield self.images[batch], self.labels[batch]
