"""train(cfg) end to end, in-process, on synthetic data: what it writes, logs and returns."""

import json
import math
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import yaml
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig
from pytorch_lightning.profilers import SimpleProfiler
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2
from torch.utils.tensorboard import SummaryWriter

from conftest import CONF
from mlplab.config import register_configs
from mlplab.errors import ConfigError
from mlplab.figures.activations import activation_figure
from mlplab.profiler import NullProfiler
from mlplab.training import DEFAULT_THREADS, train


def _events(run_dir: Path) -> EventAccumulator:
    accumulator = EventAccumulator(str(run_dir / "tensorboard"))
    accumulator.Reload()
    return accumulator


def _hparams(accumulator: EventAccumulator) -> tuple[dict[str, object], list[str]]:
    """The run's hyperparameters as HPARAMS reads them, and which hparams records the run wrote."""
    content = accumulator.PluginTagToContent("hparams")
    params, kinds = {}, []
    for blob in content.values():
        data = plugin_data_pb2.HParamsPluginData.FromString(blob)
        kinds.append(data.WhichOneof("data"))
        if data.HasField("session_start_info"):
            params = {k: v for k, v in data.session_start_info.hparams.items()}
    return params, kinds


def test_train_writes_checkpoints_metrics_and_tensorboard_events(make_cfg: Callable[..., DictConfig]) -> None:
    cfg = make_cfg("model=concise", "model.optimizer.lr=0.5")
    metrics = train(cfg)
    run_dir = Path(cfg.output_dir)

    assert all(math.isfinite(v) for v in metrics.values())
    # A fifth of the synthetic images show another class's band: 0.82 is the most any model can reach.
    assert 0.75 < metrics["acc/test"] <= 0.85, "2 epochs learn the bands; chance is 0.1"
    assert json.loads((run_dir / "metrics.json").read_text()) == metrics
    assert {p.name for p in (run_dir / "checkpoints").iterdir()} == {"best.ckpt", "last.ckpt"}
    assert len(json.loads((run_dir / "data.json").read_text())) == 4, "the four files read, in the run's folder"

    events = _events(run_dir)
    for tag in ("loss/train", "acc/train", "loss/val", "acc/val"):
        assert [e.step for e in events.Scalars(tag)] != [], tag
        assert len(events.Scalars(tag)) == 2, f"{tag}: one value per epoch"
    assert events.Scalars("acc/val")[-1].value == pytest.approx(metrics["acc/val"])
    params, kinds = _hparams(events)
    value = {key.split(" ", 1)[1]: v for key, v in params.items()}  # "05 lr" -> "lr"
    assert value["lr"].number_value == 0.5 and value["activation"].string_value == "relu"
    assert value["hidden"].string_value == "256x1" and value["batch_size"].number_value == 64
    # No experiment of its own: TensorBoard would show the first run's for a whole folder.
    assert sorted(kinds) == ["session_end_info", "session_start_info"]
    # HPARAMS reads the curves' last values: the test accuracy sits where the training curve ends.
    (test_acc,) = events.Scalars("acc/test")
    assert test_acc.value == pytest.approx(metrics["acc/test"])
    assert test_acc.step == events.Scalars("acc/train")[-1].step > 0
    assert {"lr", "acc/train", "loss/val"} <= set(events.Tags()["scalars"])


def test_scratch_model_trains_and_steps_are_counted(make_cfg: Callable[..., DictConfig]) -> None:
    cfg = make_cfg("model=scratch", "activation=tanh", "hidden=64x1")
    metrics = train(cfg)
    assert 0.75 < metrics["acc/val"] <= 0.85
    steps = [e.step for e in _events(Path(cfg.output_dir)).Scalars("loss/train")]
    assert steps == [16, 32], "16 batches of 64 per epoch (1000 images): each hand-written update counts as a step"


def test_same_seed_gives_identical_metrics(make_cfg: Callable[..., DictConfig], tmp_path: Path) -> None:
    runs = [
        train(make_cfg(f"seed={seed}", "trainer.max_epochs=1", f"output_dir={tmp_path / str(i)}"))
        for i, seed in enumerate((5, 5, 6))
    ]
    first, again, other = ({k: v for k, v in run.items() if not k.startswith("time/")} for run in runs)
    assert first == again and "acc/val" in first
    assert first != other


def test_a_run_without_threads_trains_with_torchs_default_after_one_that_set_them(
    make_cfg: Callable[..., DictConfig], tmp_path: Path
) -> None:
    # As a sweep's jobs do, one after another in one process: threads=1,null.
    train(make_cfg("threads=1", "trainer.max_epochs=1", f"output_dir={tmp_path / '0'}"))
    assert torch.get_num_threads() == 1
    train(make_cfg("trainer.max_epochs=1", f"output_dir={tmp_path / '1'}"))
    assert torch.get_num_threads() == DEFAULT_THREADS


def test_each_run_logs_its_activations_figure_as_add_figure_draws_it(
    make_cfg: Callable[..., DictConfig], tmp_path: Path
) -> None:
    # Two runs of one process (as a sweep's jobs): the second takes the pixels the first drew.
    for i in range(2):
        train(make_cfg("activation=tanh", "trainer.max_epochs=1", f"output_dir={tmp_path / str(i)}"))
    drawn = SummaryWriter(str(tmp_path / "add_figure"))
    drawn.add_figure("plots/activation_tanh", activation_figure("tanh"), global_step=0)
    drawn.close()
    expected = _images(tmp_path / "add_figure")
    assert expected[:3] == (0, 800, 300)
    for i in range(2):
        assert _images(tmp_path / str(i) / "tensorboard") == expected


def _images(folder: Path) -> tuple[int, int, int, bytes]:
    """The one activation image a folder's events hold: its step, width, height and PNG bytes."""
    accumulator = EventAccumulator(str(folder))
    accumulator.Reload()
    (image,) = accumulator.Images("plots/activation_tanh")
    return image.step, image.width, image.height, image.encoded_image_string


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.optimizer.lr=0", "model.optimizer.lr=0 is not allowed: the learning rate must be a number > 0"),
        ("model.hidden=[256,0]", r"model.hidden=\[256,0\] is not allowed: it must list one or more positive"),
        (
            "model.activation=tahn",
            "model.activation=tahn is not allowed: choose one of: elu, gelu, identity, leaky_relu, relu, sigmoid",
        ),
        ("model.init_std=0", "model.init_std=0.0 is not allowed: it must be > 0, or null for He initialisation"),
        ("data.batch_size=0", "data.batch_size=0 is not allowed: it must be a positive integer"),
        ("data.batches_per_step=0", "data.batches_per_step=0 is not allowed: it must be a positive integer"),
        ("data.eval_batch_size=-5", "data.eval_batch_size=-5 is not allowed: it must be a positive integer"),
        ("data.val_size=-1", "data.val_size=-1 is not allowed"),
        ("data.normalize=zscore", "data.normalize=zscore is not allowed: choose one of: unit, standard"),
        ("trainer.max_epochs=0", "trainer.max_epochs=0 is not allowed"),
    ],
)
def test_bad_values_are_refused_before_any_work(
    make_cfg: Callable[..., DictConfig], override: str, message: str
) -> None:
    cfg = make_cfg(override)
    with pytest.raises(ConfigError, match=message):
        train(cfg)
    assert not Path(cfg.output_dir).exists(), "nothing is written for a refused run"


def test_chapter_presets_hold_the_chapters_settings() -> None:
    register_configs()
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        scratch = compose("train", overrides=["experiment=chapter_scratch"])
        concise = compose("train", overrides=["experiment=chapter_concise"])
    for cfg in (scratch, concise):
        assert cfg.data.batch_size == 256 and cfg.data.val_size == 0 and cfg.data.normalize == "unit"
        assert cfg.trainer.max_epochs == 5 and list(cfg.model.hidden) == [256]
        assert cfg.model.activation == "relu" and cfg.model.init_std == 0.01
    assert scratch.model.optimizer.lr == 100 / 256 and scratch.model.optimizer._target_.endswith("ScratchSGD")
    assert concise.model.optimizer.lr == 0.5 and concise.model.optimizer._target_ == "torch.optim.SGD"


def test_accelerator_group_is_not_overridden_by_the_trainer_group() -> None:
    register_configs()
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        cfg = compose("train", overrides=["accelerator=gpu", "trainer=ddp"])
    assert cfg.trainer.accelerator == "gpu" and cfg.trainer.devices == 2 and cfg.trainer.strategy == "ddp"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without a GPU")
def test_gpu_without_a_gpu_is_refused_naming_the_alternatives(make_cfg: Callable[..., DictConfig]) -> None:
    with pytest.raises(ConfigError, match="accelerator=gpu is not allowed: no CUDA GPU is visible on this machine"):
        train(make_cfg("accelerator=gpu"))


def test_trainer_profiles_nothing_unless_asked_and_then_with_lightnings_profiler(
    make_cfg: Callable[..., DictConfig],
) -> None:
    profiler = instantiate(make_cfg().trainer, logger=False).profiler
    assert isinstance(profiler, NullProfiler)
    with profiler.profile("outer"), profiler.profile("inner"):  # one shared context, nested as hooks nest
        pass
    assert isinstance(instantiate(make_cfg("trainer.profiler=simple").trainer, logger=False).profiler, SimpleProfiler)


def test_config_yaml_holds_the_values_that_ran_in_plain_yaml(make_cfg: Callable[..., DictConfig]) -> None:
    cfg = make_cfg("hidden=512", "lr=0.1", "trainer.max_epochs=1")
    train(cfg)
    text = (Path(cfg.output_dir) / "config.yaml").read_text()
    assert "mlplab_" not in text, "no resolver of this project is needed to read it"
    config = yaml.safe_load(text)
    assert config["model"]["hidden"] == [512] and config["model"]["optimizer"]["lr"] == 0.1
    assert config["callbacks"]["last_checkpoint"]["dirpath"] == "${output_dir}/checkpoints", "follows a moved folder"


def test_a_run_limited_to_a_few_batches_is_extended_by_resume(make_cfg: Callable[..., DictConfig]) -> None:
    from mlplab.resuming import resume

    cfg = make_cfg("+trainer.limit_train_batches=3", "trainer.max_epochs=1")
    train(cfg)
    folder = Path(cfg.output_dir)
    assert yaml.safe_load((folder / "config.yaml").read_text())["data"]["batches_per_step"] == 1, "as it ran"
    resume(folder, ["trainer.max_epochs=2"])
    checkpoint = torch.load(folder / "checkpoints" / "last.ckpt", weights_only=True)
    assert (checkpoint["epoch"], checkpoint["global_step"]) == (1, 6), "2 epochs of 3 updates"
