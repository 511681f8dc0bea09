"""Find the four Fashion-MNIST IDX files: the configured folder, the system copy, then a download."""

import logging
from pathlib import Path

from mlplab.errors import DataError

log = logging.getLogger(__name__)

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def _complete_set(folder: Path) -> dict[str, Path] | None:
    """The four files in `folder`, each raw or gzipped, or None if any is missing."""
    found = {}
    for key, stem in FILES.items():
        candidates = [folder / stem, folder / f"{stem}.gz"]
        existing = [p for p in candidates if p.is_file()]
        if not existing:
            return None
        found[key] = existing[0]
    return found


def _download(data_dir: Path) -> Path:
    """Fetch the files with torchvision into `data_dir/FashionMNIST/raw` and return that folder."""
    from torchvision.datasets import (
        FashionMNIST,  # imported here: only a download needs it
    )

    FashionMNIST(str(data_dir), train=True, download=True)
    FashionMNIST(str(data_dir), train=False, download=True)
    return data_dir / "FashionMNIST" / "raw"


def _explicit_folder_files(folder: Path) -> dict[str, Path]:
    """The four files of a folder the user named (data.data_dir): all there, or an error saying which are not."""
    for candidate in (folder, folder / "FashionMNIST" / "raw"):
        files = _complete_set(candidate)
        if files:
            return files
    missing = [stem for stem in FILES.values() if not any((folder / n).is_file() for n in (stem, f"{stem}.gz"))]
    found = sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
    raise DataError(
        f"data.data_dir={folder} lacks {', '.join(missing)} (raw or .gz); it holds: "
        f"{', '.join(found) or 'no files'}. Add the missing files, or leave data.data_dir out to use the system copy"
    )


def locate(data_dir: Path, system_dir: Path, download: bool, explicit: bool = False) -> dict[str, Path]:
    """Return the paths of the four IDX files, trying each source in turn.

    A folder the user named (`explicit`) is the only source: never silently replaced by another copy.
    """
    if explicit:
        return _explicit_folder_files(data_dir)
    tried = []
    for folder in (data_dir, data_dir / "FashionMNIST" / "raw", system_dir):
        files = _complete_set(folder)
        if files:
            return files
        tried.append(str(folder))
    if download:
        try:
            files = _complete_set(_download(data_dir))
        except Exception as err:  # noqa: BLE001 - any failure of the download ends in the same advice
            tried.append(f"torchvision download into {data_dir} ({type(err).__name__}: {err})")
        else:
            if files:
                return files
            tried.append(f"torchvision download into {data_dir} (files missing afterwards)")
    else:
        tried.append("no download (data.download=false)")
    raise DataError(
        "Fashion-MNIST not found; tried: " + "; ".join(tried) + ". Get it with `make data` "
        "(installs Debian's dataset-fashion-mnist) or put the four IDX files in data.data_dir"
    )
