"""The errors mlplab reports to the user as one line instead of a traceback."""

import errno
import sys
from collections.abc import Iterator
from contextlib import contextmanager


class MlplabError(Exception):
    """A problem with the user's input: config values, data files or checkpoints."""

    exit_code = 2  # a shell's "wrong usage"


class ConfigError(MlplabError):
    """A config value is out of range or unknown."""


class DataError(MlplabError):
    """The dataset cannot be found, or a file of it is damaged."""


class DivergenceError(MlplabError):
    """The training loss stopped being a finite number."""


class CheckpointError(MlplabError):
    """A checkpoint or run folder is missing, damaged, or not one of ours."""


class StorageError(MlplabError):
    """A file of the run cannot be written: a full disk, a file-size limit, a read-only folder."""

    exit_code = 1  # the input was fine; the machine failed the run


def describe_os_error(err: OSError) -> str:
    """An OSError in words a user can act on."""
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full"
    if err.errno == errno.EFBIG:
        return "the file exceeds the size this process may write (disk quota or `ulimit -f`)"
    if err.errno == errno.EROFS:
        return "the filesystem is read-only"
    return err.strerror or str(err)


@contextmanager
def reported_as_one_line() -> Iterator[None]:
    """For command-line scripts: an MlplabError becomes `error: ...` on stderr and exit status 2."""
    try:
        yield
    except MlplabError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(err.exit_code)


class TrialPruned(Exception):  # noqa: N818 - Optuna's name for the same event
    """An Optuna search stopped this trial early: its validation accuracy so far was not promising."""
