"""Figures drawn with matplotlib, for files and for TensorBoard."""
