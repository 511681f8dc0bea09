"""Name every run and sweep job by one rule: what it trains, then what differs from the defaults.

`concise-tanh-h512x2-lr0.1`: the preset if any, the model and the activation (always, so that names
compare across sweeps), then each other setting given on the command line in one fixed order (width as
`h<widths>`, learning rate as `lr<value>`, optimiser and schedule by name, the rest as `key=value`).
A sweep job's folder is its number and this name: `3_concise-tanh-lr0.1`.

The resolver `${mlplab_run_name:}` is registered when this module is imported: Hydra resolves a job's
folder name in the launcher's worker process before any of our code runs there, and importing the
task function's modules makes it known.
"""

import re

from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

# Named by the value alone, as it reads for what it is (`concise`, `tanh`, `adamw`, `cosine`).
NAMED_BY_VALUE = ("experiment", "model", "activation", "optimizer", "scheduler")
# Named by a short prefix and the value: a bare 256 or 0.1 says nothing of what it is.
PREFIXED = {"hidden": "h", "lr": "lr"}
# The order of the parts, whatever the command line's: what trains first, then how.
ORDER = ("experiment", "model", "activation", "hidden", "lr", "optimizer", "scheduler")
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


def _short_key(override: str) -> str:
    """`model.optimizer.lr=0.1` -> `lr`: the last part of the key, which the name shows."""
    return override.partition("=")[0].lstrip("+~").rsplit(".", 1)[-1]


def name_part(override: str) -> str | None:
    """`model=concise` -> `concise`, `model.optimizer.lr=0.1` -> `lr0.1`, `hidden=512x2` -> `h512x2`,
    `seed=1` -> `seed=1`; None for overrides that name nothing."""
    key, _, value = override.partition("=")
    if not value or key.lstrip("+~").startswith(NOT_NAMING):
        return None
    short = _short_key(override)
    if short in PREFIXED:
        return f"{PREFIXED[short]}{_value(value)}"
    return _value(value) if short in NAMED_BY_VALUE else f"{short}={_value(value)}"


def _join(parts: list[str]) -> str:
    """The parts joined by `-`, each once, as many whole parts as fit in MAX_LENGTH."""
    name = ""
    for part in dict.fromkeys(p for p in parts if p):
        if len(name) + len(part) + 1 > MAX_LENGTH:
            break
        name = f"{name}-{part}" if name else part
    return name


def run_name() -> str:
    """This run's or job's name: its preset, model and activation, then the other overrides in ORDER."""
    hydra = HydraConfig.get()
    choices = hydra.runtime.choices
    chosen = [choices.experiment] if choices.get("experiment") else []
    chosen += [choices.model, choices.activation]
    # The groups above are named by what was chosen, whether on the command line or by a preset.
    # A key given twice on one command line trains with its last value: named by that one.
    last = {o.partition("=")[0].lstrip("+~"): o for o in hydra.overrides.task}
    overrides = [o for o in last.values() if _short_key(o) not in ("experiment", "model", "activation")]
    in_order = sorted(overrides, key=lambda o: ORDER.index(_short_key(o)) if _short_key(o) in ORDER else len(ORDER))
    return _join([*chosen, *(name_part(o) or "" for o in in_order)])


def split_folder_name(name: str) -> tuple[str, str | None]:
    """`2026-12-02_12-10-05_123456_concise-tanh` -> (`concise-tanh`, `12-02_12-10-05`); other names unchanged."""
    stamped = STAMPED.match(name)
    if stamped is None:
        return name, None
    return stamped.group(4) or "run", f"{stamped.group(2)}_{stamped.group(3)}"


OmegaConf.register_new_resolver("mlplab_run_name", run_name, replace=True)
