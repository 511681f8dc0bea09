"""The two MLPs of the chapter and the pieces they are built from."""

from mlplab.models.concise import ConciseMLP
from mlplab.models.scratch import ScratchMLP

__all__ = ["ConciseMLP", "ScratchMLP"]
