"""Continue a run in its own folder from its last completed epoch, or train a finished run for longer.

    python src/resume.py outputs/runs/<run folder>                       # an interrupted run, to its end
    python src/resume.py outputs/latest trainer.max_epochs=10            # a finished 5-epoch run, on to 10

The run's own config.yaml is used, checked as train.py checks it, its log is appended to, and
TensorBoard shows one run.
"""

import argparse
from pathlib import Path

from mlplab.checkpoints import run_folder_of
from mlplab.errors import reported_as_one_line
from mlplab.job import interrupted
from mlplab.resuming import resume


def main() -> None:
    """Parse the command line and resume; Ctrl-C and SIGTERM end it as they end train.py."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="the run folder to continue (or outputs/latest)")
    parser.add_argument("overrides", nargs="*", help="trainer.max_epochs=<n>: train a run for longer")
    args = parser.parse_args()
    with reported_as_one_line():
        try:
            resume(args.folder, args.overrides)
        except (SystemExit, KeyboardInterrupt) as stop:  # Ctrl-C or SIGTERM; Lightning's way out is SystemExit
            raise SystemExit(interrupted(stop, run_folder_of(args.folder).resolve())) from None


if __name__ == "__main__":
    main()
