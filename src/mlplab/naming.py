"""Name every run and sweep job by one rule: what it trains, then what the command line sets.

`concise-tanh-h512x2-lr0.1`: the preset if any, the model and the activation (always, so that names
compare across sweeps), then each other setting given on the command line, in one fixed order: width,
learning rate, optimiser, schedule, then the rest by key (`data.batch_size` before `seed` before
`trainer.max_epochs`). Values are read from the config as it ran, so one setting has one spelling
(`lr=small` and `lr=0.1` are both `lr0.1`; `hidden=256` and `hidden=256x1` both `h256x1`). A sweep
job's folder is its number and this name: `3_concise-tanh-lr0.1`; past MAX_LENGTH a name keeps the
parts that fit, and always the model, the activation and the values the sweep varies.

The resolver `${mlplab_run_name:}` is registered when this module is imported: Hydra resolves a job's
folder name in the launcher's worker process before any of our code runs there, and importing the
task function's modules makes it known.
"""

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.types import RunMode
from omegaconf import DictConfig, ListConfig, OmegaConf

# Named by the value alone, as it reads for what it is (`concise`, `tanh`, `adamw`, `cosine`).
NAMED_BY_VALUE = ("experiment", "model", "activation", "optimizer", "scheduler")
# Named by a short prefix and the value: a bare 256 or 0.1 says nothing of what it is.
PREFIXED = {"hidden": "h", "lr": "lr"}
# Where the value that ran is, for settings with several spellings (lr=small, hidden=256).
FROM_CONFIG = {"hidden": "model.hidden", "lr": "model.optimizer.lr"}
# The order of the parts, whatever the command line's: what trains first, then how, then the rest by key.
ORDER = ("experiment", "model", "activation", "hidden", "lr", "optimizer", "scheduler")
# Overrides that say where or how a run computes, not what it trains: never part of a name.
NOT_NAMING = ("hydra", "output_dir", "outputs", "threads", "compile", "accelerator", "trainer.accelerator",
              "trainer.devices", "trainer.strategy", "trainer.num_nodes", "data.data_dir", "data.system_dir",
              "data.download", "callbacks", "logger", "hparams_search")  # fmt: skip
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


def _value(value: Any) -> str:
    """A value as it reads in a name: widths as `512x2` or `512-128`, numbers to 3 digits, no slashes or spaces."""
    if isinstance(value, str) and value.startswith("["):
        value = value.strip("[]").replace(" ", "").split(",")
    if isinstance(value, list | tuple | ListConfig):
        items = [for_people(item) for item in value]
        value = f"{items[0]}x{len(items)}" if len(set(items)) == 1 else "-".join(items)
    return for_people(value).replace("/", "-").replace(" ", "")  # a name, never a folder inside a folder


def _key(override: str) -> str:
    """`+model.optimizer.lr=0.1` -> `model.optimizer.lr`."""
    return override.partition("=")[0].lstrip("+~")


def _short_key(override: str) -> str:
    """`model.optimizer.lr=0.1` -> `lr`: the last part of the key, which the name shows."""
    return _key(override).rsplit(".", 1)[-1]


def _as_run(override: str, config: DictConfig | None) -> Any:
    """The override's value as the run has it in `config` (one spelling per value), else as typed."""
    key, value = _key(override), override.partition("=")[2]
    where = FROM_CONFIG.get(_short_key(override), key)
    if config is None:
        return value
    try:
        ran = OmegaConf.select(config, where, throw_on_missing=False)
    except Exception:  # noqa: BLE001 - an interpolation that does not resolve here: the typed value names it
        return value
    return ran if isinstance(ran, int | float | str | bool | ListConfig) else value  # a group's node: as typed


def name_part(override: str, config: DictConfig | None = None) -> str | None:
    """`model=concise` -> `concise`, `model.optimizer.lr=0.1` -> `lr0.1`, `hidden=[512,512]` -> `h512x2`,
    `seed=1` -> `seed=1`; None for overrides that name nothing. Values from `config` where given."""
    if not override.partition("=")[2] or _key(override).startswith(NOT_NAMING):
        return None
    short, value = _short_key(override), _value(_as_run(override, config))
    if short in PREFIXED:
        if short == "hidden" and "x" not in value and "-" not in value:
            value = f"{value}x1"  # one spelling for one layer, as HPARAMS shows it
        return f"{PREFIXED[short]}{value}"
    return value if short in NAMED_BY_VALUE else f"{short}={value}"


def _join(parts: list[tuple[str, bool]]) -> str:
    """The parts joined by `-`, each once, in order: every part marked kept, and of the others those that fit
    in MAX_LENGTH beside them."""
    parts = list({part: kept for part, kept in parts if part}.items())
    room = MAX_LENGTH - len("-".join(part for part, kept in parts if kept))
    chosen = []
    for part, kept in parts:
        if not kept and len(part) + 1 > room:
            continue  # too long for what is left: a later, shorter part may still fit
        room -= 0 if kept else len(part) + 1
        chosen.append(part)
    return "-".join(chosen)


def swept_keys() -> set[str]:
    """Keys the current sweep varies: sweep syntax on the command line, or the sweeper's own params."""
    hydra = HydraConfig.get()
    if hydra.mode != RunMode.MULTIRUN:
        return set()
    keys = set(hydra.sweeper.get("params") or {})
    multirun = Path(hydra.sweep.dir) / "multirun.yaml"
    if multirun.is_file():  # the sweep's command line, saved by the sweeper before it launches jobs
        stat = multirun.stat()
        task = OverridesParser.create().parse_overrides(
            list(_sweep_command_line(multirun, stat.st_mtime_ns, stat.st_size))
        )
        keys -= {o.key_or_group for o in task if not o.is_sweep_override()}  # a single value fixes a param
        keys |= {o.key_or_group for o in task if o.is_sweep_override()}
    return {key.lstrip("+~") for key in keys}


@lru_cache(maxsize=4)
def _sweep_command_line(multirun: Path, mtime_ns: int, size: int) -> tuple[str, ...]:
    """The overrides a sweep's multirun.yaml records, read once per version of the file (25 ms a read)."""
    return tuple(OmegaConf.load(multirun).hydra.overrides.task)


def run_name(*, _root_: DictConfig | None = None) -> str:
    """This run's or job's name (`_root_`: its config, which OmegaConf hands a resolver)."""
    hydra = HydraConfig.get()
    choices = hydra.runtime.choices
    chosen = [choices.experiment] if choices.get("experiment") else []
    chosen += [choices.model, choices.activation]  # by what was chosen, on the command line or by a preset
    # A key given twice on one command line trains with its last value: named by that one.
    last = {_key(o): o for o in hydra.overrides.task if _short_key(o) not in ("experiment", "model", "activation")}

    def position(key: str) -> tuple[int, str]:
        short = key.rsplit(".", 1)[-1]
        return (ORDER.index(short), "") if short in ORDER else (len(ORDER), key)

    swept = swept_keys()
    parts = [(part, True) for part in chosen]
    parts += [(name_part(last[key], _root_) or "", key in swept) for key in sorted(last, key=position)]
    return _join(parts)


def split_folder_name(name: str) -> tuple[str, str | None]:
    """`2026-12-02_12-10-05_123456_concise-tanh` -> (`concise-tanh`, `12-02_12-10-05`); other names unchanged."""
    stamped = STAMPED.match(name)
    if stamped is None:
        return name, None
    return stamped.group(4) or "run", f"{stamped.group(2)}_{stamped.group(3)}"


OmegaConf.register_new_resolver("mlplab_run_name", run_name, replace=True)
