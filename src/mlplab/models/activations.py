"""Activation functions written from their definitions, each paired with torch's module of the same function.

The scratch model calls the hand-written function; the concise model uses the torch module.
Adding an activation is one function here, one entry in ACTIVATIONS, and one conf/activation/*.yaml.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from mlplab.errors import ConfigError


def identity(x: Tensor) -> Tensor:
    """identity(x) = x: no nonlinearity, so stacked layers collapse into one affine map."""
    return x


def relu(x: Tensor) -> Tensor:
    """ReLU(x) = max(x, 0)."""
    return torch.max(x, torch.zeros_like(x))


def sigmoid(x: Tensor) -> Tensor:
    """sigmoid(x) = 1 / (1 + exp(-x)), evaluated through exp(-|x|) so it never overflows."""
    z = torch.exp(-x.abs())
    return torch.where(x >= 0, 1 / (1 + z), z / (1 + z))


def tanh(x: Tensor) -> Tensor:
    """tanh(x) = (1 - exp(-2x)) / (1 + exp(-2x)) = 2 sigmoid(2x) - 1."""
    return 2 * sigmoid(2 * x) - 1


def leaky_relu(x: Tensor, slope: float = 0.01) -> Tensor:
    """LeakyReLU(x) = x for x > 0, slope * x otherwise."""
    return torch.where(x > 0, x, slope * x)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """ELU(x) = x for x > 0, alpha * (exp(x) - 1) otherwise."""
    return torch.where(x > 0, x, alpha * torch.expm1(torch.clamp(x, max=0)))


def gelu(x: Tensor) -> Tensor:
    """GELU(x) = x * Phi(x), Phi the standard normal CDF."""
    return x * 0.5 * (1 + torch.erf(x / math.sqrt(2)))


def silu(x: Tensor) -> Tensor:
    """SiLU(x) = x * sigmoid(x), also called swish."""
    return x * sigmoid(x)


def softplus(x: Tensor) -> Tensor:
    """softplus(x) = log(1 + exp(x)), as max(x, 0) + log1p(exp(-|x|)) to avoid overflow."""
    return torch.clamp(x, min=0) + torch.log1p(torch.exp(-x.abs()))


@dataclass(frozen=True)
class Activation:
    """One activation: the hand-written function and torch's module for the same thing."""

    scratch: Callable[[Tensor], Tensor]
    module: Callable[[], nn.Module]


ACTIVATIONS = {
    "relu": Activation(relu, nn.ReLU),
    "sigmoid": Activation(sigmoid, nn.Sigmoid),
    "tanh": Activation(tanh, nn.Tanh),
    "leaky_relu": Activation(leaky_relu, nn.LeakyReLU),
    "elu": Activation(elu, nn.ELU),
    "gelu": Activation(gelu, nn.GELU),
    "silu": Activation(silu, nn.SiLU),
    "softplus": Activation(softplus, nn.Softplus),
    "identity": Activation(identity, nn.Identity),
}


def get_activation(name: str) -> Activation:
    """Look an activation up by name, naming the choices when it is unknown."""
    if name not in ACTIVATIONS:
        raise ConfigError(f"activation '{name}' is unknown; choose one of: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]
