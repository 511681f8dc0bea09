"""The scratch and the concise MLP: shapes, initialisation, parameter counts, and identical training steps."""

from functools import partial
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

from conftest import copy_scratch_into_concise
from mlplab.data import FashionMNISTDataModule, datamodule
from mlplab.models import ConciseMLP, ScratchMLP
from mlplab.models.sgd import ScratchSGD


def test_scratch_mlp_holds_the_chapters_parameters_drawn_from_normal_0_001() -> None:
    torch.manual_seed(0)
    model = ScratchMLP(partial(ScratchSGD, lr=0.1))
    shapes = {name: tuple(p.shape) for name, p in model.named_parameters()}
    assert shapes == {"W1": (784, 256), "b1": (256,), "W2": (256, 10), "b2": (10,)}
    assert abs(model.W1.std().item() - 0.01) < 0.0005 and abs(model.W1.mean().item()) < 0.0005
    assert torch.count_nonzero(model.b1) == 0 and torch.count_nonzero(model.b2) == 0
    assert model(torch.rand(3, 28, 28)).shape == (3, 10)


def test_concise_mlp_is_flatten_linear_relu_linear() -> None:
    model = ConciseMLP(partial(torch.optim.SGD, lr=0.5))
    kinds = [type(m).__name__ for m in model.net]
    assert kinds == ["Flatten", "Linear", "ReLU", "Linear"]
    assert model(torch.rand(3, 28, 28)).shape == (3, 10)


def test_init_std_null_draws_each_layers_weights_with_he_spread_sqrt_2_over_fan_in() -> None:
    torch.manual_seed(0)
    scratch = ScratchMLP(partial(ScratchSGD, lr=0.1), hidden=[512, 128], init_std=None)
    concise = ConciseMLP(partial(torch.optim.SGD, lr=0.1), hidden=[512, 128], init_std=None)
    for weights in (scratch.layer_weights(), concise.layer_weights()):
        for weight, fan_in in zip(weights, (784, 512, 128), strict=True):
            assert abs(weight.std().item() / (2 / fan_in) ** 0.5 - 1) < 0.05


def test_deeper_models_have_one_layer_per_hidden_width() -> None:
    scratch = ScratchMLP(partial(ScratchSGD, lr=0.1), hidden=[64, 32, 16], activation="tanh")
    concise = ConciseMLP(partial(torch.optim.SGD, lr=0.1), hidden=[64, 32, 16], activation="tanh")
    assert [tuple(p.shape) for p in scratch.parameters()] == [tuple(reversed(p.shape)) for p in concise.parameters()]
    assert scratch.num_parameters() == concise.num_parameters() == 784 * 64 + 64 + 64 * 32 + 32 + 32 * 16 + 16 + 170


def test_chapter_quiz_256x256_input_1000_hidden_10_classes_has_65546000_weights() -> None:
    model = ConciseMLP(partial(torch.optim.SGD, lr=0.1), hidden=[1000], num_inputs=256 * 256, num_classes=10)
    weights = sum(p.numel() for p in model.parameters() if p.dim() == 2)
    assert weights == 65_546_000
    assert model.num_parameters() == 65_546_000 + 1000 + 10


def _fit(
    model: pl.LightningModule, data_dir: Path, steps: int, batches_per_step: int = 1, precision: str = "32-true"
) -> pl.Trainer:
    datamodule = FashionMNISTDataModule(
        str(data_dir), "/nonexistent", False, batch_size=64, batches_per_step=batches_per_step, val_size=0, seed=3
    )
    trainer = pl.Trainer(
        max_steps=steps,
        precision=precision,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
    )
    trainer.fit(model, datamodule=datamodule)
    return trainer


def test_scratch_and_concise_take_identical_steps(fake_data: Path) -> None:
    """The chapter's point: nn.Sequential + torch.optim.SGD does exactly what the hand-written code does."""
    scratch = ScratchMLP(partial(ScratchSGD, lr=0.3), hidden=[32], activation="sigmoid")
    concise = ConciseMLP(partial(torch.optim.SGD, lr=0.3), hidden=[32], activation="sigmoid")
    copy_scratch_into_concise(scratch, concise)
    before = scratch.W1.detach().clone()

    _fit(scratch, fake_data, steps=25)
    _fit(concise, fake_data, steps=25)

    assert not torch.allclose(scratch.W1, before), "training did not move the weights"
    torch.testing.assert_close(scratch.W1, concise.net[1].weight.T, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(scratch.W2, concise.net[3].weight.T, rtol=1e-4, atol=1e-6)
    images = torch.rand(8, 28, 28)
    torch.testing.assert_close(scratch(images), concise(images), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed", "64-true"])
@pytest.mark.parametrize("model_class", [ScratchMLP, ConciseMLP])
def test_several_batches_per_step_make_the_same_updates_as_one(
    fake_data: Path, model_class: type, precision: str
) -> None:
    """batches_per_step changes how often Lightning's loop runs, not the training: same updates, same count.

    Under bf16-mixed this also checks that each update's forward sees the weights the previous update
    left, not the bfloat16 copies autocast cached at the group's first forward.
    """
    optimizer = partial(ScratchSGD if model_class is ScratchMLP else torch.optim.SGD, lr=0.3)
    one, grouped = model_class(optimizer, hidden=[32]), model_class(optimizer, hidden=[32])
    grouped.load_state_dict(one.state_dict())

    # 19 updates: 1200 images in batches of 64 make 19 per epoch; grouped by 4, Lightning runs 5 steps.
    trainer_one = _fit(one, fake_data, steps=23, precision=precision)
    trainer_grouped = _fit(grouped, fake_data, steps=23, batches_per_step=4, precision=precision)

    assert trainer_one.global_step == trainer_grouped.global_step == 23, "max_steps counts updates, not groups"
    for name, weights in one.state_dict().items():
        torch.testing.assert_close(grouped.state_dict()[name], weights, rtol=0, atol=0, msg=name)


@pytest.mark.parametrize("model_class", [ScratchMLP, ConciseMLP])
def test_mixed_precision_keeps_the_images_in_autocasts_dtype_with_the_same_updates(
    fake_data: Path, model_class: type, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under bf16-mixed the images are stored in bfloat16: the first matrix product casts them so anyway."""
    optimizer = partial(ScratchSGD if model_class is ScratchMLP else torch.optim.SGD, lr=0.3)
    stored, cast = model_class(optimizer, hidden=[32]), model_class(optimizer, hidden=[32])
    cast.load_state_dict(stored.state_dict())

    trainer = _fit(stored, fake_data, steps=23, batches_per_step=4, precision="bf16-mixed")
    with monkeypatch.context() as patch:  # the images as they were kept before: float32, cast by autocast
        patch.setattr(FashionMNISTDataModule, "_as_trainer_feeds", lambda self, data: data)
        patch.setattr(datamodule, "_splits_made", {})  # splits made afresh, not the bfloat16 ones just made
        reference = _fit(cast, fake_data, steps=23, batches_per_step=4, precision="bf16-mixed")

    images, labels = trainer.datamodule.splits["train"]
    assert (images.dtype, labels.dtype) == (torch.bfloat16, torch.int64)
    assert reference.datamodule.splits["train"][0].dtype == torch.float32
    for name, weights in cast.state_dict().items():
        torch.testing.assert_close(stored.state_dict()[name], weights, rtol=0, atol=0, msg=name)


def test_scratch_sgd_step_is_p_minus_lr_times_grad() -> None:
    param = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    param.grad = torch.tensor([0.5, 0.25])
    ScratchSGD([param], lr=0.4).step()
    torch.testing.assert_close(param.data, torch.tensor([0.8, -2.1]))


def test_scratch_sgd_zero_grad_forgets_or_zeroes_every_gradient() -> None:
    params = [torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(2))]
    optimizer = ScratchSGD(params, lr=0.1)
    for param in params:
        param.grad = torch.full_like(param, 7.0)
    optimizer.zero_grad(set_to_none=False)
    assert all(torch.equal(p.grad, torch.zeros_like(p)) for p in params)
    optimizer.zero_grad()
    assert all(p.grad is None for p in params)


def test_scratch_sgd_step_runs_bare_of_torchs_profiler_record_and_refuses_step_hooks() -> None:
    param = torch.nn.Parameter(torch.ones(4))
    param.grad = torch.ones(4)
    optimizer = ScratchSGD([param], lr=0.5)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
        optimizer.step()
    names = {event.name for event in profile.events()}
    assert "aten::add_" in names, "the update itself shows in the profile"
    assert not any(name.startswith("Optimizer.step#") for name in names), names
    torch.testing.assert_close(param.data, torch.full((4,), 0.5))
    with pytest.raises(NotImplementedError, match="no step hooks"):
        optimizer.register_step_pre_hook(lambda *args: None)
    with pytest.raises(NotImplementedError, match="no step hooks"):
        optimizer.register_step_post_hook(lambda *args: None)
