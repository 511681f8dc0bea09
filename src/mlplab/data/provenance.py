"""Which data files a run read: their paths, sizes and checksums, kept in the run folder (data.json)."""

import hashlib
import logging
from pathlib import Path

from mlplab.data.locate import DataSource
from mlplab.status import write_json_atomic

log = logging.getLogger(__name__)


def record_data_files(files: dict[str, Path], folder: Path, source: DataSource) -> None:
    """Write <folder>/data.json naming each file with its size and SHA-256, and log where the data came from.

    Where the data set's published .gz files have known md5s, each entry also says whether the file is
    that published file, byte for byte (a recompressed copy, as Debian's, holds the same images but is not).
    """
    record = {}
    for key, path in files.items():
        sha256, md5 = hashlib.sha256(), hashlib.md5()
        with open(path, "rb") as file:
            while chunk := file.read(1 << 20):
                sha256.update(chunk)
                md5.update(chunk)
        record[key] = {"path": str(path.resolve()), "bytes": path.stat().st_size, "sha256": sha256.hexdigest()}
        if key in source.published_md5 and path.suffix == ".gz":
            record[key]["same_bytes_as_published"] = md5.hexdigest() == source.published_md5[key]
    write_json_atomic(folder / "data.json", record)
    sources = sorted({str(path.resolve().parent) for path in files.values()})
    log.info(f"data: {source.name}, {', '.join(sources)} (the four files, with sizes and checksums, in data.json)")
