"""Name a sweep's job by the overrides its sweep varies, e.g. `model=scratch,activation=tanh`.

The resolver `${mlplab_swept:}` is registered when this module is imported: Hydra resolves a job's
folder name in the launcher's worker process before any of our code runs there, and importing
the task function's modules is what makes it known.
"""

from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf


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


def swept_overrides() -> str:
    """This job's values of the swept keys, `key=value` joined by commas ('run' if nothing varies)."""
    keys = swept_keys()
    job = [o for o in HydraConfig.get().overrides.task if o.split("=", 1)[0].lstrip("+~") in keys]
    return ",".join(job).replace("/", "-") or "run"


OmegaConf.register_new_resolver("mlplab_swept", swept_overrides, replace=True)
