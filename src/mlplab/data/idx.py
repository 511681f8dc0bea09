"""Decode IDX files (the format of MNIST and Fashion-MNIST), gzipped or raw."""

import gzip
from pathlib import Path

import numpy as np
import torch
from isal import igzip, isal_zlib

from mlplab.errors import DataError

# IDX magic numbers: two zero bytes, the dtype code 0x08 (unsigned byte), then the number of dims.
_MAGIC = {1: 0x00000801, 3: 0x00000803}


# A sweep's jobs run one after another in one process and read the same four files: each is decoded
# once. Keyed by what changes when a file is replaced or rewritten (inode, size, modification and
# change times: tar or cp -p may set the old modification time, never the change time), so a changed
# file is read afresh. Callers copy before changing a tensor (indexing, .float() do).
_decoded: dict[tuple, torch.Tensor] = {}
_KEPT = 8  # files: a data set's four, and another's


def file_identity(path: Path) -> tuple:
    """What tells this file's content apart from a replaced or rewritten one's, without reading it."""
    stat = path.stat()
    return (str(path.resolve()), stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


def read_idx(path: Path, ndim: int) -> torch.Tensor:
    """Read an IDX file of unsigned bytes with `ndim` dimensions into a uint8 tensor (shared: do not change it)."""
    try:
        key = (file_identity(path), ndim)
    except OSError as err:
        raise DataError(f"{path}: cannot be read ({err}); delete it and run `make data`") from err
    if key not in _decoded:
        if len(_decoded) >= _KEPT:
            _decoded.clear()
        _decoded[key] = _decode(path, ndim)
    return _decoded[key]


def _decode(path: Path, ndim: int) -> torch.Tensor:
    try:
        # ISA-L's inflate, not zlib's: 0.12 s instead of 0.28 for the training images, in every run.
        raw = igzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, isal_zlib.error) as err:
        raise DataError(f"{path}: cannot be read ({err}); delete it and run `make data`") from err
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: {len(raw)} bytes is shorter than an IDX header; the file is damaged")
    magic = int.from_bytes(raw[:4], "big")
    if magic != _MAGIC[ndim]:
        raise DataError(
            f"{path}: magic number {magic:#010x} is not that of a {ndim}-d IDX file "
            f"({_MAGIC[ndim]:#010x}); is it the right file?"
        )
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        raise DataError(
            f"{path}: {len(raw)} bytes but its header {shape} needs {expected}; the file is truncated or damaged"
        )
    # Copied into memory torch allocates: numpy's own copy asks the kernel for huge pages, and on this
    # project's 2-core machine that stalled the copy 40-500 ms in about every third process.
    images = torch.empty(shape, dtype=torch.uint8)
    images.numpy()[...] = np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)
    return images


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file, gzipped when the name ends in .gz."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = _MAGIC[array.ndim].to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    data = header + array.tobytes()
    path.write_bytes(gzip.compress(data, compresslevel=1) if path.suffix == ".gz" else data)
