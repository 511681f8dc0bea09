"""Draw the per-layer gradient norms of every run in a folder (e.g. a sweep) into gradient_norms.png.

python src/plot_gradients.py outputs/multirun/<sweep>
"""

import argparse
from pathlib import Path

from mlplab.figures.gradients import gradient_norm_figure
from mlplab.runs import find_runs


def main() -> None:
    """Parse the command line and write the figure beside the runs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a run folder, or a folder of runs such as a sweep")
    parser.add_argument("--epoch", type=int, default=1, help="which epoch's mean gradient norms to draw (from 1)")
    args = parser.parse_args()
    runs = [run for run in find_runs(args.folder) if any(t.startswith("weight_grad_norm/") for t in run.scalars)]
    if not runs:
        parser.error(f"no run under {args.folder} logged weight_grad_norm/* scalars")
    too_short = [r.folder.name for r in runs if len(r.scalars["weight_grad_norm/layer1"]) < args.epoch]
    if args.epoch < 1 or too_short:
        parser.error(f"--epoch {args.epoch} is not an epoch every run has (shorter: {', '.join(too_short)})")
    out = args.folder / "gradient_norms.png"
    gradient_norm_figure(runs, args.epoch - 1).savefig(out, dpi=100)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
