"""A run's state on disk (status.json), so a half-finished folder never looks like a finished one."""

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pytorch_lightning.utilities.exceptions import SIGTERMException

from mlplab.errors import DivergenceError, TrialPruned


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON through a temporary file and a rename: a reader sees the old file or the new, never half."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(temporary, path)


def _outcome(error: BaseException) -> str:
    if isinstance(error, DivergenceError):
        return "diverged"
    if isinstance(error, TrialPruned):
        return "pruned"
    if isinstance(error, (KeyboardInterrupt, SIGTERMException, SystemExit)):
        return "interrupted"  # Lightning turns Ctrl-C into SystemExit after its own clean-up
    return "failed"


@contextmanager
def recorded_status(folder: Path, enabled: bool = True) -> Iterator[None]:
    """status.json says `running` inside the block, then `completed`, `diverged`, `pruned`, `interrupted` or `failed`.

    Only one process of a run writes it: the others of a DDP run pass enabled=False.
    """
    if not enabled:
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    started, clock = datetime.now(timezone.utc).isoformat(timespec="seconds"), time.perf_counter()
    write_json_atomic(folder / "status.json", {"status": "running", "started": started})

    def finish(status: str, **extra: str) -> None:
        wall = round(time.perf_counter() - clock, 2)
        write_json_atomic(folder / "status.json", {"status": status, "started": started, "wall_s": wall, **extra})

    try:
        yield
    except BaseException as error:
        finish(_outcome(error), error=str(error) or type(error).__name__)
        raise
    finish("completed")
