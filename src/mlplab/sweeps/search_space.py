"""A search space written in Hydra's sweep syntax, as Optuna distributions.

    choice(64x1, 256x1) or 64x1,256x1   -> CategoricalDistribution
    range(1, 5) (step 1)                 -> IntDistribution (a float range: one value per step, categorical)
    interval(0.01, 1.0)                  -> FloatDistribution; tag(log, ...) samples on a log scale,
                                            tag(int, ...) integers
A value without sweep syntax is fixed: every trial gets it, and it takes the key out of the space.
"""

from dataclasses import dataclass
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep
from hydra.errors import HydraException
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from mlplab.errors import ConfigError


@dataclass
class SearchSpace:
    """What a search varies (key -> distribution) and what it holds fixed (overrides every trial gets)."""

    distributions: dict[str, BaseDistribution]
    fixed: list[str]


def _distribution(override: Override) -> BaseDistribution:
    sweep = override.value()
    key = override.key_or_group
    if isinstance(sweep, ChoiceSweep):
        return CategoricalDistribution([str(c) if isinstance(c, (list, dict)) else c for c in sweep.list])
    if isinstance(sweep, RangeSweep):
        values = list(sweep.range())
        if all(isinstance(v, int) for v in (sweep.start, sweep.stop, sweep.step)):
            return IntDistribution(min(values), max(values), step=abs(int(sweep.step)))
        return CategoricalDistribution(values)
    if isinstance(sweep, IntervalSweep):
        low, high = sweep.start, sweep.end
        if low is None or high is None or not low < high:
            raise ConfigError(f"{key}=interval({low}, {high}) is not allowed: it needs a start below its end")
        log = "log" in sweep.tags
        if "int" in sweep.tags:
            return IntDistribution(int(low), int(high), log=log)
        return FloatDistribution(low, high, log=log)
    raise ConfigError(f"{override.input_line} is not allowed: use choice(...), range(...) or interval(...)")


def search_space(params: dict[str, Any], arguments: list[str]) -> SearchSpace:
    """The space from the sweeper's `params` and the command line's overrides, the command line winning."""
    lines = [f"{key}={value}" for key, value in params.items()] + list(arguments)
    distributions: dict[str, BaseDistribution] = {}
    fixed: dict[str, str] = {}
    try:
        overrides = OverridesParser.create().parse_overrides(lines)
    except HydraException as err:
        raise ConfigError(f"the search space does not parse: {str(err).splitlines()[0]}") from None
    for override in overrides:
        key = override.get_key_element()
        distributions.pop(key, None)
        fixed.pop(key, None)
        if override.is_sweep_override():
            distributions[key] = _distribution(override)
        else:
            fixed[key] = override.input_line
    return SearchSpace(distributions, list(fixed.values()))


def trial_overrides(space: SearchSpace, params: dict[str, Any]) -> list[str]:
    """One trial's overrides: the fixed ones, then its sampled value of every key the space varies."""
    return [*space.fixed, *(f"{key}={value}" for key, value in params.items())]
