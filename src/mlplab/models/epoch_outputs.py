"""One stage's losses, logits and labels over an epoch, kept for the metrics computed at its end."""

import torch
from torch import Tensor


class EpochOutputs:
    """Each batch's loss, logits and labels, copied into a few tensors that last from epoch to epoch.

    Kept as small tensors of their own, three a batch, they took pieces out of the holes that each
    update's large short-lived tensors (the batch, the gradients) leave in the heap: all through a
    process's first epoch the heap grew, every large tensor came on fresh pages, and the epoch took
    up to 1.9x as long as the next. Copying (about 10 us a batch) leaves the heap as the plain loop does.
    The tensors grow by doubling, and take the type that torch.cat would give the batches.
    """

    def __init__(self) -> None:
        self.batches = 0  # batches so far this epoch
        self.rows = 0  # samples so far this epoch
        self.sizes: list[int] = []  # each batch's number of samples
        self.losses: Tensor | None = None
        self.logits: Tensor | None = None
        self.labels: Tensor | None = None

    def __len__(self) -> int:
        return self.batches

    def append(self, loss: Tensor, logits: Tensor, labels: Tensor) -> None:
        """Copy one batch's outputs in (detached: nothing of the autograd graph is kept)."""
        n = len(labels)
        if (
            self.rows == 0  # a new epoch: anything may have changed (its first batch checks it all)
            or self.rows + n > len(self.logits)
            or self.batches == len(self.losses)
            or loss.dtype != self.losses.dtype
            or logits.dtype != self.logits.dtype
            or labels.dtype != self.labels.dtype
            or logits.shape[1:] != self.logits.shape[1:]
        ):
            self.losses = _room(self.losses, self.batches, 1, loss.reshape(1))
            self.logits = _room(self.logits, self.rows, n, logits)
            self.labels = _room(self.labels, self.rows, n, labels)
        self.losses[self.batches].copy_(loss.detach())
        self.logits[self.rows : self.rows + n].copy_(logits.detach())
        self.labels[self.rows : self.rows + n].copy_(labels)
        self.sizes.append(n)
        self.batches += 1
        self.rows += n

    def take(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The epoch's per-batch losses and sizes, and every sample's logits and labels; the next epoch starts.

        The tensors are views, overwritten by the next epoch's batches: use them before then.
        """
        if self.batches == 0 or self.losses is None or self.logits is None or self.labels is None:
            raise ValueError("no batch this epoch")
        sizes = torch.tensor(self.sizes, dtype=torch.float32, device=self.losses.device)
        taken = self.losses[: self.batches], sizes, self.logits[: self.rows], self.labels[: self.rows]
        self.batches, self.rows, self.sizes = 0, 0, []
        return taken


def _room(kept: Tensor | None, used: int, more: int, like: Tensor) -> Tensor:
    """`kept`, or a copy of its first `used` rows in a tensor with room for `more`, of the type both need."""
    if kept is None or used == 0:  # a new epoch's first batch: its own type, whatever the last epoch's
        dtype = like.dtype
    elif kept.shape[1:] != like.shape[1:]:
        raise ValueError(
            f"a batch of shape {tuple(like.shape)} in an epoch of batches of {tuple(kept.shape[1:])} per row"
        )
    else:
        dtype = torch.promote_types(kept.dtype, like.dtype)
    fits = kept is not None and used + more <= len(kept) and kept.shape[1:] == like.shape[1:]
    if fits and kept.dtype == dtype and kept.device == like.device:
        return kept
    grown = torch.empty((max(2 * (used + more), 64), *like.shape[1:]), dtype=dtype, device=like.device)
    if kept is not None and used:
        grown[:used].copy_(kept[:used])
    return grown
