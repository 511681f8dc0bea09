"""Rebuild the summary of any folder of runs (a sweep, or outputs/runs): table and validation curves.

python src/summarize.py outputs/multirun/<sweep folder>
"""

import argparse
from pathlib import Path

from mlplab.sweeps.summary import write_summary


def main() -> None:
    """Parse the command line and write summary.csv, summary.md and val_acc.png into the folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a folder holding run folders")
    folder = parser.parse_args().folder
    rows = write_summary(folder)
    if not rows:
        parser.error(f"no run folders (with status.json) under {folder}")
    print((folder / "summary.md").read_text(), end="")


if __name__ == "__main__":
    main()
