"""Rebuild the summary of any folder of runs (a sweep, or outputs/runs): table and validation curves.

python src/summarize.py outputs/multirun/<sweep folder>
"""

import argparse
import sys
from pathlib import Path

from mlplab.errors import describe_os_error
from mlplab.sweeps.summary import collect, summary_markdown, write_summary


def main() -> None:
    """Parse the command line and write summary.csv, summary.md and val_acc.png into the folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a folder holding run folders")
    folder = parser.parse_args().folder
    jobs = collect(folder)  # read once: the table is shown even where it cannot be written
    rows = [job for job, _ in jobs]
    try:
        write_summary(folder, jobs)
    except OSError as err:  # a read-only or full folder: the table is still shown, and what was not written said
        print(summary_markdown(folder, rows), end="")
        print(f"error: cannot write the summary into {folder}: {describe_os_error(err)}", file=sys.stderr)
        sys.exit(1)
    if not rows:
        parser.error(f"no run folders (with status.json) under {folder}")
    print(summary_markdown(folder, rows), end="")


if __name__ == "__main__":
    main()
