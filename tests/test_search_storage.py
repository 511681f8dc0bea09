"""A search's Optuna storage (hydra.sweeper.storage): bad paths and URLs, and damaged journals, provoked for real.

Refusals of a path or URL call the function the sweeper opens its storage with, in-process; a journal's
damage is made in the journal of a real search, and the search resumed through the real command line.
"""

import importlib.util
import json
import logging
import shutil
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

import processes
from conftest import ROOT, tiny_overrides
from mlplab.errors import ConfigError
from mlplab.sweeps.study_storage import ALLOWED, open_search_storage, open_storage


def _refusal(location: str) -> str:
    """What the search answers to hydra.sweeper.storage=<location>, before anything else it does."""
    with pytest.raises(ConfigError) as refused:
        open_search_storage(location)
    return str(refused.value)


def _contents(folder: Path) -> dict[str, bytes | None]:
    """Every file and folder under `folder`, with a file's bytes: what a refusal must leave as it was."""
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None for p in folder.rglob("*")}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def _read_only_folder(tmp_path: Path) -> Iterator[Path]:
    """A read-only tmpfs mounted in tmp_path: a folder no one, root included, can write in."""
    mount = tmp_path / "read-only"
    mount.mkdir()
    mounted = processes.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(mount)], timeout=30)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield mount
    finally:
        processes.run(["umount", str(mount)], timeout=30, check=True)


def _optuna_journal(path: Path, trials: int = 2) -> Path:
    """A journal as Optuna writes it, from a study of a few instant trials."""
    study = optuna.create_study(study_name="mlplab", storage=open_storage(str(path)), direction="maximize")
    study.optimize(lambda trial: trial.suggest_float("model.optimizer.lr", 0.01, 1.0), n_trials=trials)
    return path


def _trials(journal: Path) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name="mlplab", storage=open_storage(str(journal))).trials


@pytest.mark.parametrize(
    ("location", "problem"),
    [
        ("foo://x", "is not allowed: foo is not a database SQLAlchemy knows"),
        ("://x", "is not allowed: it is not a URL SQLAlchemy can read"),
        ("sqlite:////nonexistent/dir/x.db", "is not allowed: the folder /nonexistent/dir does not exist"),
        ("sqlite:///{tmp}/a-file/x.db", "is not allowed: the folder {tmp}/a-file is a file"),
        ("sqlite:///{tmp}/notes.txt", "cannot be opened: file is not a database"),
        ("sqlite://", "is not allowed: an in-memory database is not shared with the trials"),
        ("{tmp}/a-file/sub/study.journal", "is not allowed: {tmp}/a-file is a file, not a folder"),
        ("{tmp}/a-folder", "is not allowed: it is a folder"),
    ],
)
def test_a_bad_storage_is_refused_in_one_line_and_nothing_is_made(tmp_path: Path, location: str, problem: str) -> None:
    (tmp_path / "a-file").write_text("not a folder\n")
    (tmp_path / "notes.txt").write_text("not a database\n")
    (tmp_path / "a-folder").mkdir()
    location, problem = location.format(tmp=tmp_path), problem.format(tmp=tmp_path)
    before = _contents(tmp_path)
    assert _refusal(location) == f"hydra.sweeper.storage={location} {problem}; {ALLOWED}"
    assert _contents(tmp_path) == before, "no file or folder made, none changed"


def test_a_storage_in_a_read_only_folder_is_refused(tmp_path: Path) -> None:
    with _read_only_folder(tmp_path) as mount:
        for journal in (mount / "study.journal", mount / "sub" / "study.journal"):
            assert _refusal(str(journal)) == (
                f"hydra.sweeper.storage={journal} is not allowed: cannot write in {mount}: "
                f"the filesystem is read-only; {ALLOWED}"
            )
        database = f"sqlite:///{mount}/study.db"
        assert _refusal(database).startswith(f"hydra.sweeper.storage={database} cannot be opened: ")
        assert not any(mount.iterdir())


@pytest.mark.skipif(importlib.util.find_spec("psycopg") is not None, reason="PostgreSQL's driver is installed here")
def test_a_postgresql_url_without_its_driver_is_refused_and_its_password_never_shown() -> None:
    message = _refusal(f"postgresql://mlplab:secret@127.0.0.1:{_free_port()}/mlplab")
    assert "secret" not in message and "postgresql://mlplab:***@127.0.0.1:" in message
    assert "is not allowed: postgresql needs the Python module psycopg: pip install psycopg[binary]; " in message


def test_a_database_server_that_does_not_answer_is_refused() -> None:
    pytest.importorskip("psycopg", reason="PostgreSQL's driver is not installed: no connection can be tried")
    url = f"postgresql://mlplab@127.0.0.1:{_free_port()}/mlplab"  # a port nothing listens on
    message = _refusal(url)
    assert message.startswith(f"hydra.sweeper.storage={url} cannot be opened: ") and "Connection refused" in message
    assert message.endswith(ALLOWED) and "\n" not in message


def test_a_file_that_is_no_journal_is_refused_not_emptied(tmp_path: Path) -> None:
    database = tmp_path / "study.db"
    open_storage(f"sqlite:///{database}")  # an SQLite study named without sqlite:///, so read as a journal
    before = database.read_bytes()
    assert _refusal(str(database)).startswith(f"{database}: line 1 is not an Optuna journal record (")
    assert database.read_bytes() == before
    with closing(sqlite3.connect(database)) as still_a_database:
        assert still_a_database.execute("select study_name from studies").fetchall() == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study.db"]


@pytest.mark.parametrize("kept", [5, 60], ids=["cut-in-its-first-bytes", "cut-in-its-values"])
def test_a_record_cut_short_is_set_aside_wherever_the_cut_falls(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, kept: int
) -> None:
    journal = _optuna_journal(tmp_path / "study.journal")
    lines = journal.read_bytes().splitlines(keepends=True)
    torn = lines[-1][:kept]  # the last record: trial 1's end
    journal.write_bytes(b"".join(lines[:-1]) + torn)
    with caplog.at_level(logging.WARNING):
        open_search_storage(str(journal))
    (side,) = tmp_path.glob("study.journal.torn-*")
    assert side.read_bytes() == torn and journal.read_bytes() == b"".join(lines[:-1])
    assert f"{journal}: its last line (line {len(lines)}, {kept} bytes) was cut short" in caplog.text
    assert [t.state for t in _trials(journal)] == [TrialState.COMPLETE, TrialState.RUNNING]


def test_a_trial_process_never_repairs_the_journal(tmp_path: Path) -> None:
    journal = _optuna_journal(tmp_path / "study.journal")
    torn = journal.read_bytes()[:-30]
    journal.write_bytes(torn)
    open_storage(str(journal))  # what load_trial opens in a trial's process, while others may be appending
    assert journal.read_bytes() == torn and sorted(p.name for p in tmp_path.iterdir()) == ["study.journal"]


def _search(data: Path, sweep: Path, storage: str, *args: str) -> subprocess.CompletedProcess[str]:
    """src/train.py's search of one-epoch trials of the smallest MLP, as a user starts it."""
    overrides = [o for o in tiny_overrides(data, sweep) if not o.startswith(("output_dir", "trainer.max_epochs"))]
    command = [
        sys.executable, str(ROOT / "src" / "train.py"), "hparams_search=optuna", *overrides, "trainer.max_epochs=1",
        "hidden=64x1", f"hydra.sweep.dir={sweep}", f"hydra.sweeper.storage={storage}", *args,
    ]  # fmt: skip
    return processes.run(command, timeout=600)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("storage", "problem"),
    [
        ("foo://x", "is not allowed: foo is not a database SQLAlchemy knows"),
        ("{tmp}/a-file/study.journal", "is not allowed: {tmp}/a-file is a file, not a folder"),
    ],
)
def test_a_bad_storage_stops_the_search_with_one_line_before_any_trial(
    fake_data: Path, tmp_path: Path, storage: str, problem: str
) -> None:
    (tmp_path / "a-file").write_text("not a folder\n")
    storage, problem = storage.format(tmp=tmp_path), problem.format(tmp=tmp_path)
    result = _search(fake_data, tmp_path / "sweep", storage)
    assert result.returncode == 2, result.stderr[-3000:]
    assert result.stderr == f"error: hydra.sweeper.storage={storage} {problem}; {ALLOWED}\n"
    assert not (tmp_path / "sweep").exists(), "no sweep folder, no trial"


@pytest.fixture(scope="module")
def searched_journal(fake_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The journal of a real two-trial search; tests damage a copy of it."""
    folder = tmp_path_factory.mktemp("searched")
    result = _search(fake_data, folder / "sweep", str(folder / "study.journal"), "hydra.sweeper.n_trials=2")
    assert result.returncode == 0, result.stderr[-3000:]
    return folder / "study.journal"


@pytest.mark.slow
def test_a_journal_whose_last_record_was_cut_short_resumes_and_counts_on(
    fake_data: Path, searched_journal: Path, tmp_path: Path
) -> None:
    journal = Path(shutil.copy(searched_journal, tmp_path / "study.journal"))
    lines = journal.read_bytes().splitlines(keepends=True)
    complete, torn = b"".join(lines[:-1]), lines[-1][: len(lines[-1]) // 2]  # a crash in the middle of trial 1's end
    journal.write_bytes(complete + torn)

    result = _search(fake_data, tmp_path / "resumed", str(journal), "hydra.sweeper.n_trials=1")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    (side,) = tmp_path.glob("study.journal.torn-*")
    assert side.read_bytes() == torn, "the torn bytes are kept beside the journal"
    assert (
        f"{journal}: its last line (line {len(lines)}, {len(torn)} bytes) was cut short, as a crash while writing "
        f"leaves it; moved to {side}, and the study resumes from the {len(lines) - 1} records before it"
    ) in output
    assert f"Optuna study 'mlplab' in {journal}: 2 trials so far, 1 more" in output
    assert "Traceback" not in output and "error:" not in output

    after = journal.read_bytes()
    assert after.startswith(complete) and all(json.loads(line)["op_code"] >= 0 for line in after.splitlines())
    trials = _trials(journal)
    assert [t.number for t in trials] == [0, 1, 2], "the search counts on from the trials before"
    # Trial 1's end was the torn record; its run folder still holds how it ended, and the study is told so.
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.COMPLETE, TrialState.COMPLETE]
    folder = Path(trials[1].user_attrs["run_folder"])
    assert trials[1].value == json.loads((folder / "metrics.json").read_text())["acc/val"]
    assert f"trial 1 was left running in the study; its folder says completed: told so ({folder})" in output
    assert [p.name.split("_")[0] for p in (tmp_path / "resumed").iterdir() if p.is_dir()] == ["2"]


@pytest.mark.slow
@pytest.mark.parametrize("where", ["a garbage line in the middle", "a complete last line that is not JSON"])
def test_an_unreadable_journal_line_stops_the_search_and_the_file_is_kept(
    fake_data: Path, searched_journal: Path, tmp_path: Path, where: str
) -> None:
    journal = Path(shutil.copy(searched_journal, tmp_path / "study.journal"))
    lines = journal.read_bytes().splitlines(keepends=True)
    if where == "a garbage line in the middle":
        lines.insert(5, b"garbage\n")
        number = 6
    else:
        lines.append(b'{"op_code":6,"trial_id":1,"state"\n')
        number = len(lines)
    journal.write_bytes(b"".join(lines))

    result = _search(fake_data, tmp_path / "resumed", str(journal), "hydra.sweeper.n_trials=1")
    assert result.returncode == 2, result.stderr[-3000:]
    assert result.stderr == (
        f"error: {journal}: line {number} is not an Optuna journal record (not JSON); the file is left as it is: "
        "remove that line if it is not Optuna's, or give another hydra.sweeper.storage\n"
    )
    assert journal.read_bytes() == b"".join(lines), "the journal is untouched"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study.journal"], "no side file, no lock, no sweep folder"


def test_a_ctrl_c_during_a_trials_report_waits_for_the_write_and_leaves_the_study_unlocked(tmp_path: Path) -> None:
    import os
    import signal
    import time

    from sqlalchemy import event

    from mlplab.stop_signals import signals_held
    from mlplab.sweeps.study_storage import load_trial

    location = f"sqlite:///{tmp_path / 'study.db'}"
    asked = optuna.create_study(storage=open_storage(location), study_name="s").ask()
    trial = load_trial(location, "s", asked.number, optuna.pruners.NopPruner())
    sent = []

    def ctrl_c_inside_the_transaction(conn, cursor, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE")) and not sent:
            sent.append(statement)
            os.kill(os.getpid(), signal.SIGINT)  # a KeyboardInterrupt raised here would leave the write open

    engine = trial.storage._backend.engine  # the trial's own connection to the study, as OptunaPruning reports
    event.listen(engine, "before_cursor_execute", ctrl_c_inside_the_transaction)
    with pytest.raises(KeyboardInterrupt):
        with signals_held():  # as OptunaPruning reports
            trial.report(0.5, step=1)
        pytest.fail("the Ctrl-C held during the report arrives when the report is done")
    assert sent, "the signal came during the report's write"
    # The search, as after an interrupted trial, tells it at once: the database is not left locked.
    study = optuna.load_study(study_name="s", storage=open_storage(location))
    started = time.monotonic()
    study.tell(asked.number, state=TrialState.FAIL)
    assert time.monotonic() - started < 5
    assert study.trials[0].state == TrialState.FAIL and study.trials[0].intermediate_values == {1: 0.5}
