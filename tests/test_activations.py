"""The hand-written activations compute what torch's do, values and gradients."""

from functools import partial

import pytest
import torch
import torch.nn.functional as F
import yaml
from torch import nn

from conftest import CONF, copy_scratch_into_concise
from mlplab.errors import ConfigError
from mlplab.models import ConciseMLP, ScratchMLP
from mlplab.models.activations import ACTIVATIONS, get_activation, sigmoid, tanh
from mlplab.models.sgd import ScratchSGD

TORCH_REFERENCE = {
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "leaky_relu": F.leaky_relu,
    "elu": F.elu,
    "gelu": F.gelu,
    "silu": F.silu,
    "softplus": F.softplus,
    "identity": nn.Identity(),
}


def test_every_activation_has_a_torch_reference() -> None:
    assert set(ACTIVATIONS) == set(TORCH_REFERENCE)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_scratch_activation_matches_torch_values_including_extremes(name: str) -> None:
    x = torch.cat([torch.linspace(-8, 8, 401), torch.tensor([-1e4, -100.0, 0.0, 100.0, 1e4])]).double()
    expected = TORCH_REFERENCE[name](x)
    torch.testing.assert_close(ACTIVATIONS[name].scratch(x), expected)
    torch.testing.assert_close(ACTIVATIONS[name].module()(x), expected)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_scratch_activation_gradient_passes_gradcheck_and_matches_torch(name: str) -> None:
    # Avoid exactly 0, where ReLU-like functions have a kink that finite differences cannot see.
    x = (torch.linspace(-6, 6, 37, dtype=torch.float64) + 0.013).requires_grad_()
    assert torch.autograd.gradcheck(ACTIVATIONS[name].scratch, (x,))
    (ours,) = torch.autograd.grad(ACTIVATIONS[name].scratch(x).sum(), x)
    (theirs,) = torch.autograd.grad(TORCH_REFERENCE[name](x).sum(), x)
    torch.testing.assert_close(ours, theirs)


def test_unknown_activation_names_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"activation 'tahn' is unknown; choose one of: relu, sigmoid, tanh"):
        get_activation("tahn")


def test_tanh_is_a_shifted_and_scaled_sigmoid() -> None:
    x = torch.linspace(-10, 10, 2001, dtype=torch.float64)
    torch.testing.assert_close(torch.tanh(x), 2 * torch.sigmoid(2 * x) - 1, rtol=0, atol=1e-15)
    torch.testing.assert_close(tanh(x), 2 * sigmoid(2 * x) - 1, rtol=0, atol=0)


def test_two_hidden_layers_without_a_nonlinearity_are_exactly_one_affine_map() -> None:
    # Small integer weights and inputs in float64: every product and sum is exact, so equality is exact.
    torch.manual_seed(0)
    scratch = ScratchMLP(partial(ScratchSGD, lr=0.1), hidden=[32, 16], activation="identity").double()
    concise = ConciseMLP(partial(torch.optim.SGD, lr=0.1), hidden=[32, 16], activation="identity").double()
    with torch.no_grad():
        for p in scratch.parameters():
            p.copy_(torch.randint(-3, 4, p.shape))
    copy_scratch_into_concise(scratch, concise)
    (W1, b1), (W2, b2), (W3, b3) = (scratch.layer(i) for i in (1, 2, 3))
    W, b = W1 @ W2 @ W3, (b1 @ W2 + b2) @ W3 + b3  # the one affine map: X @ W + b
    X = torch.randint(0, 4, (64, 28, 28)).double()
    with torch.no_grad():
        assert torch.equal(scratch(X), X.reshape(64, -1) @ W + b)
        assert torch.equal(concise(X), X.reshape(64, -1) @ W + b)


def test_the_activations_a_config_may_name_are_the_files_of_conf_activation_and_the_functions_of_the_code() -> None:
    from mlplab import config

    assert tuple(sorted(ACTIVATIONS)) == config.ACTIVATIONS
    assert all(yaml_name_selects_it(name) for name in ACTIVATIONS)


def yaml_name_selects_it(name: str) -> bool:
    """conf/activation/<name>.yaml sets model.activation to <name>."""
    return yaml.safe_load((CONF / "activation" / f"{name}.yaml").read_text())["activation"] == name  # @package model
