"""Lightning callbacks of our own; checkpoints and the rest come from Lightning itself."""

from mlplab.callbacks.epoch_summary import EpochSummary

__all__ = ["EpochSummary"]
