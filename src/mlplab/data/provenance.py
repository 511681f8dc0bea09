"""Which data files a run read: their paths, sizes and checksums, kept in the run folder (data.json)."""

import hashlib
import logging
from pathlib import Path

from mlplab.status import write_json_atomic

log = logging.getLogger(__name__)


def record_data_files(files: dict[str, Path], folder: Path) -> None:
    """Write <folder>/data.json naming each file with its size and SHA-256, and log where the data came from."""
    record = {}
    for key, path in files.items():
        digest = hashlib.sha256()
        with open(path, "rb") as file:
            while chunk := file.read(1 << 20):
                digest.update(chunk)
        record[key] = {"path": str(path.resolve()), "bytes": path.stat().st_size, "sha256": digest.hexdigest()}
    write_json_atomic(folder / "data.json", record)
    sources = sorted({str(path.resolve().parent) for path in files.values()})
    log.info(f"data: {', '.join(sources)} (the four files, with sizes and checksums, in data.json)")
