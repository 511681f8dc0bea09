"""EpochOutputs: a stage's batches copied into lasting tensors give what torch.cat and torch.stack of them give."""

import pytest
import torch

from mlplab.models.epoch_outputs import EpochOutputs


def batches(sizes: list[int], seed: int, dtype: torch.dtype = torch.float32) -> list[tuple[torch.Tensor, ...]]:
    """(loss, logits, labels) per batch, the logits part of an autograd graph as in a training step."""
    generator = torch.Generator().manual_seed(seed)
    made = []
    for n in sizes:
        weights = torch.randn(10, 10, generator=generator, requires_grad=True)
        logits = (torch.randn(n, 10, generator=generator) @ weights).to(dtype)
        labels = torch.randint(0, 10, (n,), generator=generator)
        made.append((torch.nn.functional.cross_entropy(logits.float(), labels), logits, labels))
    return made


def test_an_epochs_outputs_are_the_batches_concatenated_detached_and_the_next_epoch_starts_empty() -> None:
    outputs = EpochOutputs()
    for epoch, sizes in enumerate(([256] * 40 + [17], [256] * 3 + [100])):  # growing past 64 rows many times
        appended = batches(sizes, seed=epoch)
        for batch in appended:
            outputs.append(*batch)
        assert len(outputs) == len(sizes)
        losses, weights, logits, labels = outputs.take()
        assert torch.equal(losses, torch.stack([loss.detach() for loss, _, _ in appended]))
        assert torch.equal(weights, torch.tensor(sizes, dtype=torch.float32))
        assert torch.equal(logits, torch.cat([lg.detach() for _, lg, _ in appended]))
        assert torch.equal(labels, torch.cat([y for _, _, y in appended]))
        assert not (losses.requires_grad or logits.requires_grad)
        assert len(outputs) == 0
    with pytest.raises(ValueError, match="no batch this epoch"):  # as torch.cat of no batches fails
        outputs.take()


def test_later_epochs_copy_into_the_same_memory_and_allocate_nothing_that_lasts() -> None:
    outputs = EpochOutputs()
    places = []
    for epoch in range(3):
        for batch in batches([256] * 30 + [96], seed=epoch):
            outputs.append(*batch)
        places.append(tuple(t.data_ptr() for t in outputs.take()[::2]))  # the losses and the logits
    assert places[0] == places[1] == places[2]


def test_batches_of_several_types_take_the_type_torch_cat_gives_them() -> None:
    outputs = EpochOutputs()
    half, full = batches([8, 8], seed=1, dtype=torch.bfloat16), batches([8], seed=2)
    for batch in (*half, *full):
        outputs.append(*batch)
    logits = outputs.take()[2]
    expected = torch.cat([lg.detach() for _, lg, _ in (*half, *full)])
    assert logits.dtype == expected.dtype == torch.float32
    assert torch.equal(logits, expected)  # the bfloat16 rows converted exactly, not rounded


def test_each_epoch_takes_its_own_batches_type_and_a_batch_of_another_width_is_refused_as_by_torch_cat() -> None:
    outputs = EpochOutputs()
    for dtype in (torch.float64, torch.bfloat16):  # as torch.cat of each epoch's batches alone
        for batch in batches([8, 8], seed=3, dtype=dtype):
            outputs.append(*batch)
        assert outputs.take()[2].dtype == dtype
    loss, logits, labels = batches([8], seed=4)[0]
    for wide in (1, 32):  # the narrow batch among the batches held, or after the wide ones were copied in
        for _ in range(wide):
            outputs.append(loss, logits, labels)
        outputs.append(loss, logits[:, :1], labels)
        with pytest.raises((RuntimeError, ValueError), match="[Ss]izes of tensors must match|rows of shape \\(1,\\)"):
            outputs.take()  # a copy would have spread its one column over the ten
        outputs = EpochOutputs()
