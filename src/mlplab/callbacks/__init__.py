"""Lightning callbacks of our own; checkpoints and the rest come from Lightning itself."""

from mlplab.callbacks.activation_figure import ActivationFigure
from mlplab.callbacks.gradient_stats import GradientStats

__all__ = ["ActivationFigure", "GradientStats"]
