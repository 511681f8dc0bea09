"""mlplab: multilayer perceptrons on Fashion-MNIST with Lightning, Hydra and TensorBoard."""
