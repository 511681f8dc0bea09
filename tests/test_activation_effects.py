"""Seeing what activations do: the chapter's figures, gradient norms per layer, saturation, vanishing gradients."""

import math
import subprocess
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from omegaconf import DictConfig

import processes
from conftest import ROOT, copy_scratch_into_concise, make_fake_fashion_mnist
from mlplab.data.idx import read_idx
from mlplab.data.locate import FILES
from mlplab.hparams import differing_labels
from mlplab.models import ConciseMLP, ScratchMLP
from mlplab.models.activations import ACTIVATIONS
from mlplab.models.sgd import ScratchSGD
from mlplab.runs import find_runs
from mlplab.training import train

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _script(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return processes.run([sys.executable, str(ROOT / "src" / name), *args], capture_output=True, text=True)


@pytest.mark.slow
def test_plot_activations_writes_one_png_per_activation_and_an_overview(tmp_path: Path) -> None:
    result = _script("plot_activations.py", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {f"{name}.png" for name in ACTIVATIONS} | {"overview.png"}
    for path in tmp_path.iterdir():
        assert path.read_bytes()[:8] == PNG_SIGNATURE and path.stat().st_size > 10_000


def test_plot_activations_refuses_an_unknown_name_before_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = processes.main_of("plot_activations.py", "--out", tmp_path / "figs", "relu", "tahn", capsys=capsys)
    assert code == 2 and "activation 'tahn' is unknown; choose one of: relu" in err
    assert not (tmp_path / "figs").exists()


@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])  # bf16-mixed: a bfloat16 probe batch
def test_gradient_norms_and_saturation_are_logged_per_layer_per_epoch(
    make_cfg: Callable[..., DictConfig], precision: str
) -> None:
    cfg = make_cfg(
        "model=scratch", "hidden=256x4", "model.hidden=[32,32,32]", "activation=tanh", f"trainer.precision={precision}"
    )
    train(cfg)
    (run,) = find_runs(Path(cfg.output_dir))
    for layer in range(1, 5):
        norms = [value for _, value in run.scalars[f"weight_grad_norm/layer{layer}"]]
        assert len(norms) == 2 and all(math.isfinite(v) and v > 0 for v in norms), layer
    for layer in range(1, 4):
        fractions = [value for _, value in run.scalars[f"saturated/layer{layer}"]]
        assert len(fractions) == 2 and all(0.0 <= v <= 1.0 for v in fractions)
    assert "weight_grad_norm/layer5" not in run.scalars and "saturated/layer4" not in run.scalars


def test_deep_sigmoid_mlp_gradient_vanishes_towards_the_input(tmp_path: Path) -> None:
    folder = make_fake_fashion_mnist(tmp_path, n_train=256, n_test=10)
    images = read_idx(folder / (FILES["train_images"] + ".gz"), ndim=3).float() / 255
    labels = read_idx(folder / (FILES["train_labels"] + ".gz"), ndim=1).long()
    ratios = {}
    for activation in ("sigmoid", "relu"):
        torch.manual_seed(0)
        model = ConciseMLP(partial(torch.optim.SGD, lr=0.1), hidden=[256] * 4, activation=activation, init_std=0.05)
        F.cross_entropy(model(images), labels).backward()
        first, *_, last = (w.grad.norm().item() for w in model.layer_weights())
        ratios[activation] = first / last
    assert ratios["sigmoid"] < 0.05, "each sigmoid layer scales the gradient by at most 1/4"
    assert ratios["relu"] > 10 * ratios["sigmoid"]


def test_scratch_and_concise_report_the_same_hidden_preactivations() -> None:
    scratch = ScratchMLP(partial(ScratchSGD, lr=0.1), hidden=[16, 8], activation="tanh")
    concise = ConciseMLP(partial(torch.optim.SGD, lr=0.1), hidden=[16, 8], activation="tanh")
    copy_scratch_into_concise(scratch, concise)
    X = torch.rand(5, 28, 28)
    for ours, theirs in zip(scratch.hidden_preactivations(X), concise.hidden_preactivations(X), strict=True):
        torch.testing.assert_close(ours, theirs)


def test_plot_gradients_draws_the_runs_of_a_folder(
    make_cfg: Callable[..., DictConfig], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for i, activation in enumerate(("sigmoid", "relu")):
        train(make_cfg(f"activation={activation}", "trainer.max_epochs=1", f"output_dir={tmp_path / 'sweep' / str(i)}"))
    code, _, err = processes.main_of("plot_gradients.py", tmp_path / "sweep", capsys=capsys)
    assert code == 0, err
    assert (tmp_path / "sweep" / "gradient_norms.png").read_bytes()[:8] == PNG_SIGNATURE
    assert differing_labels([tmp_path / "sweep" / "0", tmp_path / "sweep" / "1"]) == ["sigmoid", "relu"], "the legend"


def test_the_overview_draws_each_activation_with_its_gradient_in_a_panel_of_its_own() -> None:
    from mlplab.figures.activations import overview_figure

    figure = overview_figure(list(ACTIVATIONS))
    panels = [axes for axes in figure.axes if axes.get_visible()]
    assert [axes.get_title() for axes in panels] == list(ACTIVATIONS)
    assert all(len(axes.get_lines()) == 3 for axes in panels), "the function, its gradient and the zero line"
    assert len({axes.get_ylim() for axes in panels}) == 1, "one scale for all: comparable at a glance"


def test_the_confusion_matrix_has_a_title_and_a_colour_bar() -> None:
    import torch
    from torchmetrics.classification import MulticlassConfusionMatrix

    from mlplab.figures.confusion import confusion_figure

    confusion = MulticlassConfusionMatrix(num_classes=3)
    confusion.update(torch.tensor([0, 1, 2, 2, 1]), torch.tensor([0, 1, 2, 1, 1]))
    figure = confusion_figure(confusion, ["a", "b", "c"], "run (last.ckpt): test accuracy 0.800")
    matrix, colour_bar = figure.axes
    assert matrix.get_title() == "run (last.ckpt): test accuracy 0.800"
    assert colour_bar.get_ylabel() == "test images"
