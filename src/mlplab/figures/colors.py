"""One look per run across a sweep's figures: a job keeps its colour whichever figure, or subset, draws it."""

from pathlib import Path
from typing import Any

from matplotlib import colormaps

from mlplab.naming import JOB

LINESTYLES = ("-", "--", ":", "-.")  # after ten colours, the next ten runs repeat them with another line


def run_styles(run_folders: list[Path]) -> list[dict[str, Any]]:
    """Colour and line style of each run: by job number in a sweep (`3_concise-tanh`), else by name order."""
    palette = colormaps["tab10"].colors
    ordered = sorted(run_folders, key=lambda f: f.name)
    styles = []
    for folder in run_folders:
        job = JOB.match(folder.name)
        index = int(job.group(1)) if job else ordered.index(folder)
        styles.append({"color": palette[index % 10], "linestyle": LINESTYLES[index // 10 % len(LINESTYLES)]})
    return styles
