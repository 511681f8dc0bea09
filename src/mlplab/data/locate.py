"""Find a data set's four IDX files: the configured folder, the system copy, then a download."""

import logging
from dataclasses import dataclass, field
from pathlib import Path

from mlplab.errors import DataError

log = logging.getLogger(__name__)

# The file names the MNIST family publishes (Fashion-MNIST, MNIST, KMNIST), raw or with .gz.
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True)
class DataSource:
    """What names a data set's files: its name, their names, torchvision's class for a download, their md5s."""

    name: str = "Fashion-MNIST"
    files: dict[str, str] = field(default_factory=lambda: dict(FILES))
    torchvision_dataset: str | None = "FashionMNIST"  # also the folder torchvision downloads into: <name>/raw
    published_md5: dict[str, str] = field(default_factory=dict)  # of the published .gz files, by key


def _complete_set(source: DataSource, folder: Path) -> dict[str, Path] | None:
    """The four files in `folder`, each raw or gzipped, or None if any is missing."""
    found = {}
    for key, stem in source.files.items():
        candidates = [folder / stem, folder / f"{stem}.gz"]
        existing = [p for p in candidates if p.is_file()]
        if not existing:
            return None
        found[key] = existing[0]
    return found


def _download(source: DataSource, data_dir: Path) -> Path:
    """Fetch the files with torchvision into `data_dir/<its class name>/raw` and return that folder."""
    import torchvision.datasets  # imported here: only a download needs it

    dataset = getattr(torchvision.datasets, source.torchvision_dataset)
    dataset(str(data_dir), train=True, download=True)
    dataset(str(data_dir), train=False, download=True)
    return data_dir / source.torchvision_dataset / "raw"


def _raw_folders(source: DataSource, folder: Path) -> list[Path]:
    """`folder`, and the raw/ folder torchvision's download makes inside it."""
    return [folder, folder / source.torchvision_dataset / "raw"] if source.torchvision_dataset else [folder]


def _explicit_folder_files(source: DataSource, folder: Path, elsewhere: str) -> dict[str, Path]:
    """The four files of a folder the user named (data.data_dir): all there, or an error saying which are not."""
    for candidate in _raw_folders(source, folder):
        files = _complete_set(source, candidate)
        if files:
            return files
    stems = source.files.values()
    missing = [stem for stem in stems if not any((folder / n).is_file() for n in (stem, f"{stem}.gz"))]
    found = sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
    raise DataError(
        f"data.data_dir={folder} lacks {', '.join(missing)} (raw or .gz); it holds: "
        f"{', '.join(found) or 'no files'}. Add the missing files, or leave data.data_dir out to {elsewhere}"
    )


def locate(
    source: DataSource, data_dir: Path, system_dir: Path | None, download: bool, explicit: bool = False
) -> dict[str, Path]:
    """Return the paths of the four IDX files, trying each place in turn.

    A folder the user named (`explicit`) is the only place: never silently replaced by another copy.
    """
    if explicit:
        elsewhere = "use the system copy" if system_dir else "look in data/ (and download there)"
        return _explicit_folder_files(source, data_dir, elsewhere)
    tried = []
    for folder in [*_raw_folders(source, data_dir), *([system_dir] if system_dir else [])]:
        files = _complete_set(source, folder)
        if files:
            return files
        tried.append(str(folder))
    if download and source.torchvision_dataset:
        try:
            files = _complete_set(source, _download(source, data_dir))
        except Exception as err:  # noqa: BLE001 - any failure of the download ends in the same advice
            reason = str(err).strip().splitlines()[0] if str(err).strip() else ""  # torchvision's are several lines
            tried.append(f"torchvision download into {data_dir} ({type(err).__name__}: {reason})")
        else:
            if files:
                return files
            tried.append(f"torchvision download into {data_dir} (files missing afterwards)")
    else:
        tried.append("no download (data.download=false)")
    how = (
        "Get it with `make data` (installs Debian's dataset-fashion-mnist) or put the four IDX files in data.data_dir"
        if source.name == "Fashion-MNIST"
        else f"Put its four IDX files ({', '.join(source.files.values())}, raw or .gz) in data.data_dir"
    )
    raise DataError(f"{source.name} not found; tried: " + "; ".join(tried) + f". {how}")
