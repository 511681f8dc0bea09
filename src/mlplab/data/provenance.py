"""Which data files a run read: their paths, sizes and checksums, kept in the run folder (data.json)."""

import hashlib
import json
import logging
from pathlib import Path

from mlplab.data.idx import file_identity
from mlplab.data.locate import DataSource
from mlplab.errors import DataError
from mlplab.status import write_json_atomic

log = logging.getLogger(__name__)


def record_data_files(files: dict[str, Path], folder: Path, source: DataSource) -> None:
    """Write <folder>/data.json naming each file with its size and SHA-256, and log where the data came from.

    Where the data set's published .gz files have known md5s, each entry also says whether the file is
    that published file, byte for byte (a recompressed copy, as Debian's, holds the same images but is not).
    """
    record = {key: _describe(key, path, source) for key, path in files.items()}
    write_json_atomic(folder / "data.json", record)
    sources = sorted({str(path.resolve().parent) for path in files.values()})
    log.info(f"data: {source.name}, {', '.join(sources)} (the four files, with sizes and checksums, in data.json)")


def check_same_data(files: dict[str, Path], folder: Path) -> None:
    """Refuse to go on with a run on data other than what its earlier epochs read (data.json), byte for byte.

    The files may have moved (a run taken to a cluster): what counts is their content, not their path.
    A run folder from before data.json was kept has nothing to compare with and is let through.
    """
    for key, file, now, recorded in changed_files(files, folder):
        raise DataError(
            f"{file} is not the file the run trained on ({key}: sha256 {now[:12]}, data.json says "
            f"{recorded[:12]}); a resume continues on the same data: restore it, or start a new run"
        )


def changed_files(files: dict[str, Path], folder: Path) -> list[tuple[str, Path, str, str]]:
    """Each file whose content is not what the run's data.json recorded: (key, file, sha256 now, sha256 recorded).

    Empty for a run folder from before data.json was kept: it has nothing to compare with.
    """
    path = folder / "data.json"
    if not path.exists():
        return []
    try:
        recorded = json.loads(path.read_text())
        trained_on = {key: recorded[key]["sha256"] for key in files}
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DataError(
            f"{path} cannot be read ({type(err).__name__}: {err}); it records what the run trained on"
        ) from None
    changed = []
    for key, file in files.items():
        now = _digest(file, "sha256")  # the SHA-256 alone: whether it is the published file is data.json's
        if now != trained_on[key]:
            changed.append((key, file, now, trained_on[key]))
    return changed


# The checksums of files already hashed in this process (a sweep's jobs read the same files), keyed as
# mlplab.data.idx keys its decoded files: a file replaced or rewritten is hashed afresh.
_digests: dict[tuple, str] = {}


def _digest(path: Path, algorithm: str) -> str:
    key = (file_identity(path), algorithm)
    if key not in _digests:
        with open(path, "rb") as file:
            _digests[key] = hashlib.file_digest(file, algorithm).hexdigest()
    return _digests[key]


def _describe(key: str, path: Path, source: DataSource) -> dict:
    """A file's path, size and SHA-256, and whether it is the published file where that is known."""
    described = {"path": str(path.resolve()), "bytes": path.stat().st_size, "sha256": _digest(path, "sha256")}
    if key in source.published_md5 and path.suffix == ".gz":
        described["same_bytes_as_published"] = _digest(path, "md5") == source.published_md5[key]
    return described
