"""Image data sets in IDX files (Fashion-MNIST, MNIST, KMNIST): finding, decoding and batching them."""

from mlplab.data.datamodule import FashionMNISTDataModule, IdxDataModule

__all__ = ["FashionMNISTDataModule", "IdxDataModule"]
