"""Fashion-MNIST: finding, decoding and batching it."""

from mlplab.data.datamodule import FashionMNISTDataModule

__all__ = ["FashionMNISTDataModule"]
