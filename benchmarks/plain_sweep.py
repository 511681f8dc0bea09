"""The floor for a sweep: the README's 6-job grid trained one after another in one plain process.

    python benchmarks/plain_sweep.py --epochs 5

model=scratch,concise x activation=relu,sigmoid,tanh, each as benchmarks/plain_loop.py trains it (the
data loaded once, as a process that did nothing else would); prints one JSON line: the process's
seconds from start to end, each job's seconds and its epochs' seconds.
"""

import argparse
import json
import time
from pathlib import Path

started = time.perf_counter()  # before the imports: the process's own start counts, as a sweep's does

from plain_loop import fashion_mnist, train  # noqa: E402 - timed from before torch's import on purpose

GRID = [(model, activation) for model in ("scratch", "concise") for activation in ("relu", "sigmoid", "tanh")]


def main() -> None:
    """Train the grid, print the timings."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--data", type=Path, default=Path("/usr/share/datasets/fashion-mnist"))
    args = parser.parse_args()
    data = fashion_mnist(args.data)
    jobs = []
    for model, activation in GRID:
        job_started = time.perf_counter()
        result = train(model, activation, data, args.epochs)
        jobs.append({"job": f"{model}-{activation}", "wall_s": time.perf_counter() - job_started, **result})
    print(json.dumps({"wall_s": time.perf_counter() - started, "jobs": jobs}))


if __name__ == "__main__":
    main()
