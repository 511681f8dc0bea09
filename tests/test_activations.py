"""The hand-written activations compute what torch's do, values and gradients."""

import pytest
import torch
import torch.nn.functional as F

from mlplab.errors import ConfigError
from mlplab.models.activations import ACTIVATIONS, get_activation

TORCH_REFERENCE = {
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "leaky_relu": F.leaky_relu,
    "elu": F.elu,
    "gelu": F.gelu,
    "silu": F.silu,
    "softplus": F.softplus,
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
