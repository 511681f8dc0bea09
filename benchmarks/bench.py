"""Benchmark src/train.py against a plain PyTorch loop and the chapter's DataLoader pipeline.

    python benchmarks/bench.py            # or: make bench

One invocation on the real data, so the ratios compare runs on the same machine at the same time:
(a) benchmarks/plain_loop.py, the floor; (b) benchmarks/chapter_dataloader.py, the textbook's input
pipeline; (c) src/train.py with the two chapter presets, as a user runs it (logging, checkpoints
and all); (d) benchmarks/bare_lightning.py, a minimal LightningModule over the batches of (a): where
Lightning's own loop ends and this project's additions begin. Per-epoch time is the median of
epochs 2..N of the training steps alone, wall time the whole process, imports included; each the
best of `--repeats` runs. Then (e) benchmarks/update_path.py splits one update's time, inside one
run of each chapter preset, between Lightning's two wrappers and the raw calls. Writes
benchmarks/results.md, and the same table into docs/performance.md between its two markers.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import sweeps  # noqa: E402 - benchmarks/sweeps.py, beside this file

from mlplab.runs import load_run  # noqa: E402


class Run(NamedTuple):
    """One process of a pipeline."""

    wall: float  # seconds
    memory: float  # peak resident MiB
    epochs: list[float]  # seconds per epoch


def measure(command: list[str]) -> tuple[float, float, str]:
    """Run a command; return its wall seconds, peak resident memory in MiB, and its stdout."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"benchmark command failed: {' '.join(command)}")
    return wall, usage.ru_maxrss / 1024, out


def script(arguments: list[str], tmp: Path, repeat: int) -> Run:
    """Wall time, peak memory and per-epoch times of a benchmarks/ script (its last line is JSON)."""
    wall, memory, out = measure([sys.executable, *arguments])
    return Run(wall, memory, json.loads(out.splitlines()[-1])["epoch_seconds"])


def train_py(model: str, tmp: Path, repeat: int) -> Run:
    """Wall time, peak memory and per-epoch times (read back from TensorBoard) of src/train.py."""
    run_dir = tmp / f"{model}-{repeat}"
    wall, memory, _ = measure(
        [sys.executable, "src/train.py", f"experiment=chapter_{model}", f"hydra.run.dir={run_dir}"]
    )
    return Run(wall, memory, [value for _, value in load_run(run_dir).scalars["time/train_epoch_s"]])


def epoch_time(run: Run) -> float:
    """A run's median time per epoch over epochs 2..N (the first one warms up)."""
    return statistics.median(run.epochs[1:])


def wall_time(run: Run) -> float:
    """A run's whole-process wall time."""
    return run.wall


def ratio_range(
    runs: list[Run],
    floors: list[Run],
    value: Callable[[Run], float],
) -> str:
    """The lowest, median and highest ratio of a pipeline's runs to the floor's run of the same repeat.

    Each repeat's pair ran seconds apart, the repeats minutes apart: the spread shows how far the
    machine's swings move one ratio.
    """
    ratios = [value(run) / value(floor) for run, floor in zip(runs, floors, strict=True)]
    return " / ".join(f"{ratio:.2f}" for ratio in (min(ratios), statistics.median(ratios), max(ratios))) + "x"


PAGE_START = "<!-- make bench writes the table below; do not edit it by hand -->"
PAGE_END = "<!-- end of the table make bench writes -->"


def write_into_page(page: Path, table: str) -> None:
    """Replace what lies between the page's two markers with the table, leaving the rest of the page as it is."""
    text = page.read_text()
    if PAGE_START not in text or PAGE_END not in text:
        raise SystemExit(f"error: {page} lacks the markers {PAGE_START!r} and {PAGE_END!r}; put them back")
    before, rest = text.split(PAGE_START, 1)
    after = rest.split(PAGE_END, 1)[1]
    page.write_text(f"{before}{PAGE_START}\n{table}{PAGE_END}{after}")


def sweep_table(tmp: Path, repeats: int) -> str:
    """(f) to (i) of benchmarks/sweeps.py, interleaved `repeats` times; their tables."""
    grids, plains, searches, side_by_side = [], [], [], []
    for repeat in range(repeats):
        folder = tmp / f"grid-{repeat}"
        wall, _, _ = measure([sys.executable, "src/train.py", *sweeps.GRID, f"hydra.sweep.dir={folder}"])
        grids.append(sweeps.read_sweep(folder, wall, epochs=5))
        _, _, out = measure([sys.executable, "benchmarks/plain_sweep.py", "--epochs", "5"])
        plains.append(sweeps.plain(out))
        folder = tmp / f"search-{repeat}"
        wall, _, _ = measure([sys.executable, "src/train.py", *sweeps.SEARCH, f"hydra.sweep.dir={folder}"])
        searches.append(sweeps.read_sweep(folder, wall, epochs=5))
        folder = tmp / f"side-by-side-{repeat}"
        wall, _, _ = measure([sys.executable, "src/train.py", *sweeps.SIDE_BY_SIDE, f"hydra.sweep.dir={folder}"])
        side_by_side.append(sweeps.read_sweep(folder, wall, epochs=5))
    return sweeps.table(grids, plains, searches, side_by_side)


def main() -> None:
    """Run every pipeline, print the Markdown table and write it to benchmarks/results.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs of each whole process; the fastest counts")
    parser.add_argument("--sweep-repeats", type=int, default=3, help="runs of each sweep, (f) to (i)")
    parser.add_argument("--only-sweeps", action="store_true", help="measure (f) to (i) only and print their tables")
    args = parser.parse_args()
    if args.only_sweeps:
        with tempfile.TemporaryDirectory() as tmp:
            print(sweep_table(Path(tmp), args.sweep_repeats), end="")
        return
    pipelines = {
        "(a) plain PyTorch loop, concise": partial(script, ["benchmarks/plain_loop.py", "--model", "concise"]),
        "(d) bare Lightning loop, concise": partial(script, ["benchmarks/bare_lightning.py"]),
        "(c) src/train.py experiment=chapter_concise": partial(train_py, "concise"),
        "(a) plain PyTorch loop, scratch": partial(script, ["benchmarks/plain_loop.py", "--model", "scratch"]),
        "(c) src/train.py experiment=chapter_scratch": partial(train_py, "scratch"),
    }
    results: dict[str, list[Run]] = {name: [] for name in pipelines}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):  # interleaved, so a slow spell of the machine hits all alike
            for name, pipeline in pipelines.items():
                results[name].append(pipeline(Path(tmp), repeat))
    rows = {
        name: (
            # The best run: a slow spell of the machine only ever adds time.
            min(epoch_time(run) for run in runs),
            min(wall_time(run) for run in runs),
            max(run.memory for run in runs),
        )
        for name, runs in results.items()
    }
    chapter_run = script(["benchmarks/chapter_dataloader.py", "--epochs", "3"], Path(), 0)
    chapter = "(b) chapter's DataLoader (torchvision + ToTensor), concise"
    rows[chapter] = (epoch_time(chapter_run), None, chapter_run.memory)  # 3 epochs: its wall time compares to nothing

    lines = [
        "| pipeline | s / epoch | vs (a) same model | each repeat: low / median / high | (b) / this | process wall s "
        "| vs (a) same model | each repeat: low / median / high | peak MiB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, (epoch, wall, memory) in rows.items():
        floor = f"(a) plain PyTorch loop, {'scratch' if 'scratch' in name else 'concise'}"
        floor_epoch, floor_wall, _ = rows[floor]
        paired = name in results and name != floor  # (b) runs once, after the others
        cells = [
            name,
            f"{epoch:.3f}",
            f"{epoch / floor_epoch:.2f}x",
            ratio_range(results[name], results[floor], epoch_time) if paired else "",
            f"{rows[chapter][0] / epoch:.1f}x",
            "" if wall is None else f"{wall:.2f}",
            "" if wall is None else f"{wall / floor_wall:.2f}x",
            ratio_range(results[name], results[floor], wall_time) if paired else "",
            f"{memory:.0f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    table = "\n".join(lines) + "\n"
    for model in ("concise", "scratch"):
        _, _, out = measure([sys.executable, "benchmarks/update_path.py", f"experiment=chapter_{model}"])
        table += "\n" + "".join(line + "\n" for line in out.splitlines() if line.startswith("|"))
    with tempfile.TemporaryDirectory() as tmp:
        table += "\n" + sweep_table(Path(tmp), args.sweep_repeats)
    header = f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} CPU cores, torch threads as default.\n\n"
    (ROOT / "benchmarks" / "results.md").write_text(header + table)
    cores = f"Last measured by `make bench` on {os.cpu_count()} CPU cores, torch threads as default.\n\n"
    write_into_page(ROOT / "docs" / "performance.md", cores + table)
    print(table, end="")


if __name__ == "__main__":
    main()
