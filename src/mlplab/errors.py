"""The errors mlplab reports to the user as one line instead of a traceback."""

import sys
from collections.abc import Iterator
from contextlib import contextmanager


class MlplabError(Exception):
    """A problem with the user's input: config values, data files or checkpoints."""


class ConfigError(MlplabError):
    """A config value is out of range or unknown."""


class DataError(MlplabError):
    """The dataset cannot be found, or a file of it is damaged."""


class DivergenceError(MlplabError):
    """The training loss stopped being a finite number."""


class CheckpointError(MlplabError):
    """A checkpoint or run folder is missing, damaged, or not one of ours."""


@contextmanager
def reported_as_one_line() -> Iterator[None]:
    """For command-line scripts: an MlplabError becomes `error: ...` on stderr and exit status 2."""
    try:
        yield
    except MlplabError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)


class TrialPruned(Exception):  # noqa: N818 - Optuna's name for the same event
    """An Optuna search stopped this trial early: its validation accuracy so far was not promising."""
