"""Training recipes beyond the chapter: optimisers, schedules, dropout, label smoothing, device placement."""

from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from omegaconf import DictConfig
from pytorch_lightning.plugins.precision import HalfPrecision

from mlplab.data import FashionMNISTDataModule
from mlplab.errors import ConfigError
from mlplab.models import ConciseMLP
from mlplab.models.scratch import dropout
from mlplab.runs import find_runs
from mlplab.training import train


def _lrs(cfg: DictConfig, tag: str) -> list[float]:
    (run,) = find_runs(Path(cfg.output_dir))
    return [value for _, value in run.scalars[tag]]


def test_adamw_with_cosine_schedule_trains_the_concise_model(make_cfg: Callable[..., DictConfig]) -> None:
    cfg = make_cfg("model=concise", "optimizer=adamw", "scheduler=cosine", "trainer.max_epochs=3")
    metrics = train(cfg)
    assert 0.75 < metrics["acc/val"] <= 0.85
    lrs = _lrs(cfg, "lr")
    assert lrs[0] == pytest.approx(1e-3) and lrs[0] > lrs[1] > lrs[2] > 0, "half a cosine over 3 epochs"


@pytest.mark.parametrize("preset", ["fast", "wide", "minute"])
def test_time_to_accuracy_presets_train_end_to_end(make_cfg: Callable[..., DictConfig], preset: str) -> None:
    cfg = make_cfg(f"experiment={preset}", "trainer.max_epochs=2")
    assert cfg.model.optimizer.nesterov if preset == "fast" else cfg.trainer.precision == "bf16-mixed"
    metrics = train(cfg)
    assert 0.75 < metrics["acc/test"] <= 0.85
    assert len(_lrs(cfg, "lr")) == 2
    checkpoint = torch.load(Path(cfg.output_dir) / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["optimizer_states"][0]["param_groups"][0]["fused"], "torch's fused kernel steps the optimiser"


def test_scratch_model_follows_a_schedule_with_its_own_sgd(make_cfg: Callable[..., DictConfig]) -> None:
    cfg = make_cfg("model=scratch", "scheduler=cosine", "model.dropout=0.2", "model.label_smoothing=0.1")
    train(cfg)
    lrs = _lrs(cfg, "lr")
    assert lrs == pytest.approx([100 / 256, 100 / 256 / 2]), "cos(pi/2) halves it at the second of 2 epochs"


def test_scratch_model_refuses_a_library_optimiser(make_cfg: Callable[..., DictConfig]) -> None:
    with pytest.raises(ConfigError, match="model=scratch steps with its hand-written ScratchSGD"):
        train(make_cfg("model=scratch", "optimizer=adamw"))


def test_hand_written_dropout_zeroes_a_fraction_p_and_keeps_the_mean() -> None:
    torch.manual_seed(0)
    H = torch.ones(200, 500)
    dropped = dropout(H, 0.3)
    assert (dropped == 0).float().mean().item() == pytest.approx(0.3, abs=0.01)
    assert dropped.mean().item() == pytest.approx(1.0, abs=0.02)
    kept = dropped[dropped != 0]
    torch.testing.assert_close(kept, torch.full_like(kept, 1 / 0.7))


def test_concise_dropout_layers_follow_each_activation_and_only_act_in_training() -> None:
    model = ConciseMLP(partial(torch.optim.SGD, lr=0.1), hidden=[32, 32], dropout=0.5)
    kinds = [type(m).__name__ for m in model.net]
    assert kinds == ["Flatten", "Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear"]
    X = torch.rand(4, 28, 28)
    model.eval()
    torch.testing.assert_close(model(X), model(X))


def test_data_is_placed_on_the_trainers_device_in_its_precision_once(fake_data: Path) -> None:
    datamodule = FashionMNISTDataModule(str(fake_data), "/nonexistent", False, val_size=100)
    # Any device shows the placement; the meta device needs no GPU.
    datamodule.trainer = SimpleNamespace(
        strategy=SimpleNamespace(root_device=torch.device("meta")),
        precision_plugin=HalfPrecision("16-true"),
        is_global_zero=False,  # no run folder to record the data files in
    )
    datamodule.setup("fit")
    assert {x.device.type for x, _ in datamodule.splits.values()} == {"meta"}
    assert {y.device.type for _, y in datamodule.splits.values()} == {"meta"}
    assert {x.dtype for x, _ in datamodule.splits.values()} == {torch.float16}, "images as 16-true feeds them"
    assert {y.dtype for _, y in datamodule.splits.values()} == {torch.int64}, "labels are not converted"


@pytest.mark.slow
def test_compiled_model_trains_and_its_checkpoint_loads_into_a_plain_one(make_cfg: Callable[..., DictConfig]) -> None:
    cfg = make_cfg("model=concise", "compile=true", "trainer.max_epochs=1")
    metrics = train(cfg)
    assert 0.75 < metrics["acc/val"] <= 0.85
    checkpoint = torch.load(Path(cfg.output_dir) / "checkpoints" / "last.ckpt", weights_only=True)
    plain = ConciseMLP(partial(torch.optim.SGD, lr=0.5))
    plain.load_state_dict(checkpoint["state_dict"])  # no torch.compile prefixes in the keys
