"""Name runs and sweep jobs by what distinguishes them, values first: `concise-tanh-512x2`, `3_concise-tanh`.

The resolvers `${mlplab_run_name:}` (a single run's folder) and `${mlplab_job_name:}` (a sweep job's) are
registered when this module is imported: Hydra resolves a job's folder name in the launcher's worker
process before any of our code runs there, and importing the task function's modules makes them known.
"""

import re
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

# Options that read as what they are (`concise`, `tanh`, `512x2`, `adamw`): named by the value alone.
NAMED_BY_VALUE = ("experiment", "model", "activation", "hidden", "optimizer", "scheduler")
# Overrides that say where or how a run computes, not what it trains: never part of a name.
NOT_NAMING = ("hydra", "output_dir", "outputs", "threads", "compile", "accelerator", "trainer.accelerator",
              "trainer.devices", "trainer.strategy", "trainer.num_nodes", "data.data_dir", "data.system_dir",
              "data.download", "callbacks", "logger")  # fmt: skip
MAX_LENGTH = 80  # a folder name, not a record: the full config is in config.yaml
# A folder name as this module writes it: `<date>_<time>_<microseconds>[_<what>]` or `<job number>_<what>`.
STAMPED = re.compile(r"^(\d{4})-(\d{2}-\d{2})_(\d{2}-\d{2}-\d{2})_\d{6}(?:_(.+))?$")
JOB = re.compile(r"^(\d+)_(.+)$")


def for_people(value: object) -> str:
    """A number as people read it, to 3 significant digits (0.05611516415334506 -> 0.0561); the rest as it is.

    Names and printed lines round; files (config.yaml, metrics.json, the study) keep full precision.
    """
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, str) and re.fullmatch(r"[+-]?(\d+\.\d*|\.\d+|\d+(\.\d*)?[eE][+-]?\d+)", value):
        return f"{float(value):.3g}"  # a float written out: an integer (512) stays as it is
    return str(value)


def _value(value: str) -> str:
    """An override's value as it reads in a name: lists as widths (`512x2`, `512-128`), no slashes or spaces."""
    value = for_people(value)
    items = value.strip("[]").replace(" ", "").split(",") if value.startswith("[") else [value]
    if len(items) > 1 and len(set(items)) == 1:
        return f"{items[0]}x{len(items)}"
    return "-".join(items).replace("/", "-")


def name_part(override: str) -> str | None:
    """`model=concise` -> `concise`, `model.optimizer.lr=0.1` -> `lr=0.1`; None for overrides that name nothing."""
    key, _, value = override.partition("=")
    key = key.lstrip("+~")
    if not value or key.startswith(NOT_NAMING):
        return None
    short = key.rsplit(".", 1)[-1]
    return _value(value) if short in NAMED_BY_VALUE else f"{short}={_value(value)}"


def _join(parts: list[str]) -> str:
    """The parts joined by `-`, each once, as many whole parts as fit in MAX_LENGTH."""
    name = ""
    for part in dict.fromkeys(p for p in parts if p):
        if len(name) + len(part) + 1 > MAX_LENGTH:
            break
        name = f"{name}-{part}" if name else part
    return name


def swept_keys() -> set[str]:
    """Keys the current sweep varies: sweep syntax on the command line, or the sweeper's own params."""
    hydra = HydraConfig.get()
    keys = set(hydra.sweeper.get("params") or {})
    multirun = Path(hydra.sweep.dir) / "multirun.yaml"
    if multirun.is_file():  # the sweep's command line, saved by the sweeper before it launches jobs
        task = OverridesParser.create().parse_overrides(list(OmegaConf.load(multirun).hydra.overrides.task))
        keys -= {o.key_or_group for o in task if not o.is_sweep_override()}  # a single value fixes a param
        keys |= {o.key_or_group for o in task if o.is_sweep_override()}
    return keys


def run_name() -> str:
    """A single run's name: its preset or model and activation, then every other override that names something."""
    hydra = HydraConfig.get()
    choices = hydra.runtime.choices
    base = [choices.experiment] if choices.get("experiment") else [choices.model, choices.activation]
    return _join([*base, *(name_part(o) or "" for o in hydra.overrides.task)])


def job_name() -> str:
    """A sweep job's name: its values of the keys the sweep varies (the run's name if it varies none)."""
    keys = swept_keys()
    job = [o for o in HydraConfig.get().overrides.task if o.split("=", 1)[0].lstrip("+~") in keys]
    return _join([name_part(o) or _value(o.partition("=")[2]) for o in job]) or run_name()


def split_folder_name(name: str) -> tuple[str, str | None]:
    """`2026-12-02_12-10-05_123456_concise-tanh` -> (`concise-tanh`, `12-02_12-10-05`); other names unchanged."""
    stamped = STAMPED.match(name)
    if stamped is None:
        return name, None
    return stamped.group(4) or "run", f"{stamped.group(2)}_{stamped.group(3)}"


OmegaConf.register_new_resolver("mlplab_run_name", run_name, replace=True)
OmegaConf.register_new_resolver("mlplab_job_name", job_name, replace=True)
