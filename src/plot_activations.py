"""Draw every activation with its autograd gradient, one PNG each, plus an overview.

python src/plot_activations.py                 # into outputs/activations/
python src/plot_activations.py --out figs relu tanh
"""

import argparse
from pathlib import Path

from mlplab.figures.activations import activation_figure, overview_figure
from mlplab.models.activations import ACTIVATIONS


def main() -> None:
    """Parse the command line and write the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=list(ACTIVATIONS), help="activations to draw (default: all)")
    parser.add_argument("--out", type=Path, default=Path("outputs/activations"), help="folder for the PNG files")
    args = parser.parse_args()
    unknown = [name for name in args.names if name not in ACTIVATIONS]
    if unknown:  # stop before anything is written
        parser.error(f"activation '{unknown[0]}' is unknown; choose one of: {', '.join(ACTIVATIONS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.names:
        activation_figure(name).savefig(args.out / f"{name}.png", dpi=100)
    overview_figure(args.names).savefig(args.out / "overview.png", dpi=100)
    print(f"wrote {len(args.names) + 1} figures to {args.out}/")


if __name__ == "__main__":
    main()
