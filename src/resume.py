"""Continue an interrupted run in its own folder, from its last completed epoch.

    python src/resume.py outputs/runs/<run folder>

The run's own config.yaml is used, its log is appended to, and TensorBoard shows one run.
"""

import argparse
import json
import logging
from pathlib import Path

from mlplab.checkpoints import checkpoint_of, load_checkpoint, load_run_config, run_folder_of
from mlplab.distributed import global_rank
from mlplab.errors import CheckpointError, reported_as_one_line
from mlplab.logs import configure_logging
from mlplab.status import recorded_status
from train import train

log = logging.getLogger("resume")


def resume(folder: Path) -> dict[str, float]:
    """Train the run in `folder` on from checkpoints/last.ckpt to its configured number of epochs."""
    folder = run_folder_of(folder)
    status_file = folder / "status.json"
    if status_file.is_file() and json.loads(status_file.read_text()).get("status") == "completed":
        raise CheckpointError(f"{folder} has completed; nothing to resume (evaluate it with src/eval.py)")
    cfg = load_run_config(folder)
    cfg.output_dir = str(folder)
    checkpoint = checkpoint_of(folder)
    epoch = load_checkpoint(checkpoint)["epoch"]  # a missing or damaged checkpoint stops here
    configure_logging(folder / "train.log")
    if global_rank() == 0:
        log.info(f"resuming {folder} after epoch {epoch + 1}")
    with recorded_status(folder, enabled=global_rank() == 0):  # DDP's other ranks rerun this script
        return train(cfg, resume_from=checkpoint)


def main() -> None:
    """Parse the command line and resume."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="the run folder to continue")
    with reported_as_one_line():
        resume(parser.parse_args().folder)


if __name__ == "__main__":
    main()
