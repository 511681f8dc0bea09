"""Where a search keeps its Optuna study: a journal file or a database, shared by every process of the search."""

from pathlib import Path

import optuna
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend

JOURNAL = "optuna.journal"  # the study's file in the sweep folder when `storage` is null


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


def trial_id(storage: BaseStorage, study_name: str, number: int) -> int:
    """The storage's id of trial `number` of the study; Optuna's Trial is built from the id."""
    return storage.get_trial_id_from_study_id_trial_number(storage.get_study_id_from_name(study_name), number)


def load_trial(location: str, study_name: str, number: int, pruner: optuna.pruners.BasePruner) -> optuna.Trial:
    """Trial `number` of a study another process asked for, to report to and ask whether to prune."""
    storage = open_storage(location)
    study = optuna.load_study(study_name=study_name, storage=storage, pruner=pruner)
    return optuna.Trial(study, trial_id(storage, study_name, number))
