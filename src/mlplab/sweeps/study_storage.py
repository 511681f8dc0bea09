"""Where a search keeps its Optuna study: a journal file or a database, shared by every process of the search."""

import json
import logging
import os
import tempfile
import time
from pathlib import Path

import optuna
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend, JournalFileSymlinkLock

from mlplab.errors import ConfigError, describe_os_error

log = logging.getLogger(__name__)
JOURNAL = "optuna.journal"  # the study's file in the sweep folder when `storage` is null
ALLOWED = (
    "give a journal file in a writable folder (outputs/search.journal) "
    "or a database URL (sqlite:///outputs/search.db, postgresql://user@host/db)"
)
RECORD_START = b'{"op_code":'  # how Optuna begins every journal record it writes
# Database drivers whose pip name is not their module's.
DRIVERS = {"psycopg": "psycopg[binary]", "psycopg2": "psycopg2-binary", "MySQLdb": "mysqlclient"}


def storage_location(storage: str | None, sweep_dir: Path) -> str:
    """The storage a search uses: its `storage` setting, or a journal file in the sweep folder."""
    return str(sweep_dir / JOURNAL) if storage is None else str(storage)


def open_storage(location: str) -> BaseStorage:
    """A database URL (sqlite:///study.db, postgresql://...) opens with SQLAlchemy; anything else is a journal file.

    A journal file needs no server, and processes on other machines can share it over a network
    filesystem, which SQLite's locking does not survive.
    """
    if "://" in location:
        # SQLite takes one writer at a time; parallel trials wait for the lock instead of failing at once.
        connect_args = {"timeout": 60} if location.startswith("sqlite") else {}
        return RDBStorage(location, engine_kwargs={"connect_args": connect_args})
    path = Path(location)
    path.parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path)))


def open_search_storage(location: str) -> BaseStorage:
    """The storage as the search's own process opens it, before any trial: ConfigError if it cannot serve the study.

    Only here is a journal repaired: once trials run, their processes append to it, and a short last line
    may be a record being written.
    """
    if "://" in location:
        return _open_database(location)
    path = Path(location)
    _check_journal_folder(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        _check_journal(path)
    return open_storage(location)


def _refusal(shown: str, problem: str, verdict: str = "is not allowed") -> ConfigError:
    return ConfigError(f"hydra.sweeper.storage={shown} {verdict}: {problem}; {ALLOWED}")


def _open_database(location: str) -> BaseStorage:
    """Open a database URL, each way it can fail said in one line; the password is never shown."""
    import sqlalchemy

    try:
        url = sqlalchemy.engine.make_url(location)
    except sqlalchemy.exc.ArgumentError:
        raise _refusal(location, "it is not a URL SQLAlchemy can read") from None
    shown = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite":
        if url.database in (None, "", ":memory:"):
            raise _refusal(shown, "an in-memory database is not shared with the trials")
        folder = Path(url.database).parent
        if not folder.is_dir():
            problem = "is a file" if folder.exists() else "does not exist"
            raise _refusal(shown, f"the folder {folder} {problem}")
    try:
        return open_storage(location)
    except sqlalchemy.exc.NoSuchModuleError:
        raise _refusal(shown, f"{url.drivername} is not a database SQLAlchemy knows") from None
    except ImportError as err:  # Optuna's, raised from the driver's ModuleNotFoundError
        module = getattr(err.__cause__, "name", None) or "its driver"
        raise _refusal(
            shown, f"{url.drivername} needs the Python module {module}: pip install {DRIVERS.get(module, module)}"
        ) from None
    except sqlalchemy.exc.DBAPIError as err:
        reason = str(err.orig).strip().splitlines()[0] if str(err.orig).strip() else type(err.orig).__name__
        raise _refusal(shown, reason, verdict="cannot be opened") from None


def _check_journal_folder(path: Path) -> None:
    """The journal must be a file, or creatable, in a folder this process can write (Optuna's lock files go there)."""
    if path.is_dir():
        raise _refusal(str(path), "it is a folder")
    existing = path.parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise _refusal(str(path), f"{existing} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
        if path.exists():
            path.open("ab").close()
    except OSError as err:
        raise _refusal(str(path), f"cannot write in {existing}: {describe_os_error(err)}") from None


def _check_journal(path: Path) -> None:
    """Refuse a journal Optuna cannot replay, naming the line; set aside a last record a crash cut short.

    Optuna's reader skips a last line without its newline, then fails on every later read once the
    next record is appended to it; any other unreadable line fails the study at once.
    """
    lock = JournalFileSymlinkLock(str(path))  # the lock Optuna appends under: no record is half-written while held
    lock.acquire()
    try:
        complete = 0  # bytes of the complete lines
        with path.open("rb") as journal:
            for number, line in enumerate(journal, start=1):
                if not line.endswith(b"\n") and (line.startswith(RECORD_START) or RECORD_START.startswith(line)):
                    _set_aside(path, complete, number)
                    return
                problem = _not_a_record(line)
                if problem:
                    raise ConfigError(
                        f"{path}: line {number} is not an Optuna journal record ({problem}); the file is left as it "
                        "is: remove that line if it is not Optuna's, or give another hydra.sweeper.storage"
                    )
                complete += len(line)
    finally:
        lock.release()


def _not_a_record(line: bytes) -> str | None:
    """Why a line of a journal is no record Optuna wrote; None if it is one."""
    if not line.endswith(b"\n"):
        return "it does not end with a newline"
    try:
        record = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return "not JSON"
    return None if isinstance(record, dict) and "op_code" in record else "JSON, but no op_code"


def _set_aside(path: Path, complete: int, number: int) -> None:
    """Move the torn bytes after the last complete line to a file beside the journal, then cut the journal there."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    side = path.with_name(f"{path.name}.torn-{stamp}")
    n = 1
    while side.exists():
        side, n = path.with_name(f"{path.name}.torn-{stamp}-{n}"), n + 1
    with path.open("rb") as journal:
        journal.seek(complete)
        torn = journal.read()
    with side.open("xb") as copy:  # written and synced before the journal is cut: the bytes are never only in memory
        copy.write(torn)
        copy.flush()
        os.fsync(copy.fileno())
    with path.open("r+b") as journal:
        journal.truncate(complete)
        os.fsync(journal.fileno())
    log.warning(
        f"{path}: its last line (line {number}, {len(torn)} bytes) was cut short, as a crash while writing leaves "
        f"it; moved to {side}, and the study resumes from the {number - 1} records before it"
    )


def trial_id(storage: BaseStorage, study_name: str, number: int) -> int:
    """The storage's id of trial `number` of the study; Optuna's Trial is built from the id."""
    return storage.get_trial_id_from_study_id_trial_number(storage.get_study_id_from_name(study_name), number)


def load_trial(location: str, study_name: str, number: int, pruner: optuna.pruners.BasePruner) -> optuna.Trial:
    """Trial `number` of a study another process asked for, to report to and ask whether to prune."""
    storage = open_storage(location)
    study = optuna.load_study(study_name=study_name, storage=storage, pruner=pruner)
    return optuna.Trial(study, trial_id(storage, study_name, number))
