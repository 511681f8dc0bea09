"""One stage's losses, logits and labels over an epoch, kept for the metrics computed at its end."""

from functools import reduce

import torch
from torch import Tensor

PENDING = 32  # batches held as they are before being copied in together: a training step's updates


class EpochOutputs:
    """Each batch's loss, logits and labels, copied into a few tensors that last from epoch to epoch.

    Kept as small tensors of their own for the whole epoch, three a batch, they took pieces out of the
    holes that each update's large short-lived tensors (the batch, the gradients) leave in the heap:
    all through a process's first epoch the heap grew, every large tensor came on fresh pages, and the
    epoch took up to 1.9x as long as the next. Held for at most PENDING batches, then copied in with
    one torch.cat each (about 4 us a batch, measured), they leave the heap as the plain loop does. The tensors
    grow by doubling, and hold what torch.cat of the epoch's batches would.
    """

    def __init__(self) -> None:
        self.pending: list[tuple[Tensor, Tensor, Tensor]] = []
        self.batches = 0  # batches copied in this epoch
        self.rows = 0  # their samples
        self.sizes: list[int] = []  # each batch's number of samples
        self.losses: Tensor | None = None
        self.logits: Tensor | None = None
        self.labels: Tensor | None = None

    def __len__(self) -> int:
        return self.batches + len(self.pending)

    def append(self, loss: Tensor, logits: Tensor, labels: Tensor) -> None:
        """Keep one batch's outputs (detached: nothing of the autograd graph is kept)."""
        self.pending.append((loss.detach(), logits.detach(), labels))
        if len(self.pending) == PENDING:
            self._copy_pending()

    def take(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The epoch's per-batch losses and sizes, and every sample's logits and labels; the next epoch starts.

        The tensors are views, overwritten by the next epoch's batches: use them before then.
        """
        self._copy_pending()
        if self.batches == 0 or self.losses is None or self.logits is None or self.labels is None:
            raise ValueError("no batch this epoch")
        sizes = torch.tensor(self.sizes, dtype=torch.float32, device=self.losses.device)
        taken = self.losses[: self.batches], sizes, self.logits[: self.rows], self.labels[: self.rows]
        self.batches, self.rows, self.sizes = 0, 0, []
        return taken

    def _copy_pending(self) -> None:
        if not self.pending:
            return
        losses, logits, labels = zip(*self.pending, strict=True)
        self.pending = []
        sizes = [len(y) for y in labels]
        batches, rows = len(sizes), sum(sizes)
        self.losses = _room(self.losses, self.batches, batches, losses)
        self.logits = _room(self.logits, self.rows, rows, logits)
        self.labels = _room(self.labels, self.rows, rows, labels)
        torch.stack(losses, out=self.losses[self.batches : self.batches + batches])
        torch.cat(logits, out=self.logits[self.rows : self.rows + rows])
        torch.cat(labels, out=self.labels[self.rows : self.rows + rows])
        self.sizes += sizes
        self.batches += batches
        self.rows += rows


def _room(kept: Tensor | None, used: int, more: int, batches: tuple[Tensor, ...]) -> Tensor:
    """`kept`, or a copy of its first `used` rows in a tensor with room for `more`, of the type torch.cat gives."""
    row = batches[0].shape[1:]  # a loss's row is (): stacked, the losses are one row each
    dtype = reduce(torch.promote_types, (t.dtype for t in batches))
    if kept is not None and used:  # within an epoch, the rows so far count too
        if kept.shape[1:] != row:  # as torch.cat refuses it
            raise ValueError(f"a batch with rows of shape {tuple(row)} in an epoch of rows of {tuple(kept.shape[1:])}")
        dtype = torch.promote_types(kept.dtype, dtype)
    fits = kept is not None and used + more <= len(kept) and kept.shape[1:] == row
    if fits and kept.dtype == dtype and kept.device == batches[0].device:
        return kept
    grown = torch.empty((max(2 * (used + more), 64), *row), dtype=dtype, device=batches[0].device)
    if kept is not None and used:
        grown[:used].copy_(kept[:used])
    return grown
