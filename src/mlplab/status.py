"""A run's state on disk (status.json), so a half-finished folder never looks like a finished one."""

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlplab.errors import DivergenceError, TrialPruned, describe_os_error
from mlplab.run_folder import is_locked, locked


def write_text_atomic(path: Path, text: str) -> None:
    """Write through a temporary file and a rename: a reader sees the old file or the new, never half."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(text)
        os.replace(temporary, path)
    except OSError:
        temporary.unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON atomically (write_text_atomic)."""
    write_text_atomic(path, json.dumps(data, indent=2) + "\n")


def _outcome(error: BaseException) -> dict[str, str]:
    """How a run ended early, as status.json records it."""
    # Imported here: summaries read status files without Lightning (seconds of imports, and at a sweep's
    # exit torch's finalizers would then run during the interpreter's shutdown).
    from pytorch_lightning.utilities.exceptions import SIGTERMException

    if isinstance(error, DivergenceError):
        return {"status": "diverged", "error": str(error)}
    if isinstance(error, TrialPruned):
        return {"status": "pruned"}
    if isinstance(error, SIGTERMException):  # a message says why: a SLURM time limit (mlplab.slurm_job)
        return (
            {"status": "interrupted", "error": str(error)}
            if str(error)
            else {"status": "interrupted", "signal": "SIGTERM"}
        )
    if isinstance(error, (KeyboardInterrupt, SystemExit)):  # Lightning turns Ctrl-C into SystemExit(1)
        return {"status": "interrupted", "signal": "SIGINT"}
    return {"status": "failed", "error": str(error) or type(error).__name__}


def read_status(folder: Path) -> dict[str, Any]:
    """A run folder's status.json, with `running` said as `died` when no live process holds the folder."""
    try:
        status = json.loads((folder / "status.json").read_text())
    except FileNotFoundError:
        return {"status": "unknown", "error": "no status.json"}
    except (OSError, ValueError) as err:
        return {"status": "unknown", "error": f"status.json cannot be read ({err})"}
    if not isinstance(status, dict):
        return {"status": "unknown", "error": "status.json holds no status"}
    if status.get("status") == "running" and is_locked(folder) is False:  # None: no locks here, cannot tell
        where = f"pid {status.get('pid')} on {status.get('host')}"
        return status | {"status": "died", "error": f"the process ({where}) ended without a word: killed?"}
    return status


@contextmanager
def recorded_status(folder: Path, enabled: bool = True) -> Iterator[None]:
    """status.json says `running` inside the block, then `completed`, `diverged`, `pruned`, `interrupted` or `failed`.

    Only one process of a run writes it: the others of a DDP run pass enabled=False.
    """
    if not enabled:
        yield
        return
    with locked(folder) as owner:  # a second run or resume of this folder stops here
        # A status.json already here is this run's earlier attempt (a resume, a requeued SLURM job):
        # train.py refuses a folder that holds another run. The record covers every attempt.
        earlier = read_status(folder)
        started = earlier.get("started") or datetime.now(timezone.utc).isoformat(timespec="seconds")
        clock = time.perf_counter() - float(earlier.get("wall_s") or 0.0)
        write_json_atomic(folder / "status.json", {"status": "running", "started": started, **owner})

        def finish(outcome: dict[str, str]) -> None:
            record = outcome | {"started": started, "wall_s": round(time.perf_counter() - clock, 2), **owner}
            try:
                write_json_atomic(folder / "status.json", record)
            except OSError as err:  # a full disk must not hide the error that ended the run
                print(
                    f"note: could not record {outcome['status']} in {folder}/status.json: {describe_os_error(err)}",
                    file=sys.stderr,
                )

        try:
            yield
        except BaseException as error:
            finish(_outcome(error))
            raise
        finish({"status": "completed"})
