"""ScratchMLP: the chapter's MLP from scratch, with W1, b1, W2, b2 and a hand-written SGD step."""

from collections.abc import Callable, Iterable, Sequence
from itertools import pairwise

import torch
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from mlplab.models.activations import get_activation
from mlplab.models.classifier import NUM_CLASSES, NUM_INPUTS, MLPClassifier, weight_std
from mlplab.models.sgd import ScratchSGD


class ScratchMLP(MLPClassifier):
    """H = activation(X @ W1 + b1); O = H @ W2 + b2, with one (W, b) pair per layer."""

    def __init__(
        self,
        optimizer: Callable[[Iterable[nn.Parameter]], ScratchSGD],
        hidden: Sequence[int] = (256,),
        activation: str = "relu",
        init_std: float | None = 0.01,
        dropout: float = 0.0,
        label_smoothing: float = 0.0,
        scheduler: Callable[[Optimizer], LRScheduler] | None = None,
        num_inputs: int = NUM_INPUTS,
        num_classes: int = NUM_CLASSES,
    ) -> None:
        super().__init__(optimizer, activation, num_classes, scheduler, label_smoothing)
        self.activation = get_activation(activation).scratch
        self.dropout = dropout
        sizes = [num_inputs, *hidden, num_classes]
        # Names follow the maths: W1, b1 for the first layer, W2, b2 for the next, and so on.
        for i, (n_in, n_out) in enumerate(pairwise(sizes), start=1):
            self.register_parameter(f"W{i}", nn.Parameter(torch.randn(n_in, n_out) * weight_std(init_std, n_in)))
            self.register_parameter(f"b{i}", nn.Parameter(torch.zeros(n_out)))
        self.num_layers = len(sizes) - 1

    def layer(self, i: int) -> tuple[Tensor, Tensor]:
        """The weights and bias of layer i, counted from 1."""
        return getattr(self, f"W{i}"), getattr(self, f"b{i}")

    def layer_weights(self) -> list[Tensor]:
        return [self.layer(i)[0] for i in range(1, self.num_layers + 1)]

    def hidden_preactivations(self, X: Tensor) -> list[Tensor]:
        H, Z = X.reshape(len(X), -1), []
        for i in range(1, self.num_layers):
            W, b = self.layer(i)
            Z.append(H @ W + b)
            H = self.activation(Z[-1])
        return Z

    def forward(self, X: Tensor) -> Tensor:
        H = X.reshape(len(X), -1)
        for i in range(1, self.num_layers):
            W, b = self.layer(i)
            H = self.activation(H @ W + b)
            if self.training and self.dropout > 0:
                H = dropout(H, self.dropout)
        W, b = self.layer(self.num_layers)
        return H @ W + b


def dropout(H: Tensor, p: float) -> Tensor:
    """Zero each element with probability p and scale the survivors by 1 / (1 - p), keeping the mean."""
    mask = (torch.rand_like(H) > p).to(H.dtype)
    return mask * H / (1 - p)
