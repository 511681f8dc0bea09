"""The errors mlplab reports to the user as one line instead of a traceback."""


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
