"""OptunaSweeper: the sweeper of `hparams_search=optuna` (conf/hydra/sweeper/optuna.yaml).

Hydra imports this module in every run when it looks for plugins, so it imports nothing of Optuna's:
the search itself (mlplab.sweeps.optuna_search) loads when a search starts.
"""

from typing import Any

from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


class OptunaSweeper(Sweeper):
    """Ask Optuna for trials, run them as jobs of the configured launcher, tell Optuna their results."""

    def __init__(self, **settings: Any) -> None:
        self.settings = settings  # conf/hydra/sweeper/optuna.yaml's keys, as composed

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        """Keep the config and build the launcher the trials run through."""
        self.hydra_context = hydra_context
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> Any:
        """Run the search; `arguments` are the command line's overrides (sweep syntax adds to the space)."""
        from mlplab.sweeps.optuna_search import run_search

        return run_search(self, arguments)
