"""ConciseMLP: the same MLP the concise way, nn.Sequential and torch.optim."""

from collections.abc import Callable, Iterable, Sequence
from itertools import pairwise

from torch import Tensor, nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from mlplab.models.activations import get_activation
from mlplab.models.classifier import NUM_CLASSES, NUM_INPUTS, MLPClassifier, weight_std


class ConciseMLP(MLPClassifier):
    """nn.Sequential(Flatten, Linear, activation, ..., Linear) trained by a torch optimiser."""

    def __init__(
        self,
        optimizer: Callable[[Iterable[nn.Parameter]], Optimizer],
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
        make_activation = get_activation(activation).module
        sizes = [num_inputs, *hidden]
        layers: list[nn.Module] = [nn.Flatten()]
        for n_in, n_out in pairwise(sizes):
            layers += [nn.Linear(n_in, n_out), make_activation()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(sizes[-1], num_classes))
        self.net = nn.Sequential(*layers)
        for module in self.net:
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=weight_std(init_std, module.in_features))
                nn.init.zeros_(module.bias)

    def layer_weights(self) -> list[Tensor]:
        return [m.weight for m in self.net if isinstance(m, nn.Linear)]

    def hidden_preactivations(self, X: Tensor) -> list[Tensor]:
        H, Z = X, []
        for module in self.net[:-1]:  # every module but the output layer
            H = module(H)
            if isinstance(module, nn.Linear):
                Z.append(H)
        return Z

    def forward(self, X: Tensor) -> Tensor:
        return self.net(X)
