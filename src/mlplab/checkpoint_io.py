"""AtomicCheckpointIO: a checkpoint is replaced whole or not at all, on any filesystem."""

import io
import os
from pathlib import Path
from typing import Any

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

from mlplab.errors import StorageError, describe_os_error


class AtomicCheckpointIO(TorchCheckpointIO):
    """Write each checkpoint to a temporary file beside it, fsync it, then rename it over the old one.

    Lightning's own save goes through a temporary file in $TMPDIR; where that is another filesystem
    (a tmpfs /tmp) the final move is a copy that truncates the old checkpoint first, so a kill or a
    full disk during a save loses both. A rename within one folder is atomic: until that instant the
    old checkpoint is intact, and no checkpoint-sized file is ever written outside the run folder.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None) -> None:
        path = Path(path)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)  # in memory first: torch's zip writer hides the OSError of a full disk
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(temporary, "wb") as file:
                file.write(buffer.getbuffer())
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
            _fsync_folder(path.parent)  # the rename itself survives a power cut
        except OSError as err:
            temporary.unlink(missing_ok=True)
            raise StorageError(
                f"cannot write checkpoint {path}: {describe_os_error(err)}; the previous one is intact"
            ) from err


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
