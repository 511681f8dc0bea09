"""An Optuna search on the ask-and-tell interface: ask for trials, run them as Hydra jobs, tell Optuna how they did."""

import json
import logging
import math
import sys
import warnings
from pathlib import Path
from typing import Any

import optuna
from hydra.core.utils import JobReturn, JobStatus
from hydra.errors import HydraException
from hydra.plugins.sweeper import Sweeper
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from optuna.trial import TrialState

from mlplab.errors import ConfigError, TrialPruned
from mlplab.stop_signals import signals_held
from mlplab.sweeps.search_space import SearchSpace, search_space, trial_overrides
from mlplab.sweeps.study_storage import open_search_storage, storage_location

log = logging.getLogger(__name__)
RESULTS = "optimization_results.yaml"  # the study's best trial, written into the sweep folder
DIRECTIONS = ("maximize", "minimize")


def _check(settings: dict[str, Any], space: SearchSpace) -> None:
    for key in ("n_trials", "n_jobs"):
        if not isinstance(settings[key], int) or settings[key] < 1:
            raise ConfigError(f"hydra.sweeper.{key}={settings[key]} is not allowed: it must be an integer >= 1")
    if settings["direction"] not in DIRECTIONS:
        raise ConfigError(
            f"hydra.sweeper.direction={settings['direction']} is not allowed: choose one of: maximize, minimize"
        )
    if not space.distributions:
        raise ConfigError("hydra.sweeper.params is empty: give the keys to search in Hydra's sweep syntax")


def _check_choices(sweeper: Sweeper, space: SearchSpace) -> None:
    """Compose one job per categorical value, so a misspelt config group stops the search before any trial."""
    batch = [
        [*space.fixed, f"{key}={choice}"]
        for key, distribution in space.distributions.items()
        if isinstance(distribution, optuna.distributions.CategoricalDistribution)
        for choice in distribution.choices
    ]
    try:
        sweeper.validate_batch_is_legal(batch or [space.fixed])
    except HydraException as err:
        raise ConfigError(str(err).splitlines()[0]) from None


def _tell(study: optuna.Study, trial: optuna.Trial, job: JobReturn) -> str:
    """Tell the study how a trial's job ended; return a few words for the log."""
    trial.set_user_attr("run_folder", job.hydra_cfg.hydra.runtime.output_dir)  # shown by the dashboard too
    # A failed job's exception is in _return_value: reading return_value would re-raise it, after
    # printing "Error executing job", and a pruned trial is no error.
    outcome = job.return_value if job.status == JobStatus.COMPLETED else job._return_value
    if isinstance(outcome, TrialPruned):
        study.tell(trial, state=TrialState.PRUNED)
        return str(outcome)  # e.g. "pruned after epoch 1: acc/val 0.115"
    if isinstance(outcome, (int, float)) and math.isfinite(outcome):
        study.tell(trial, float(outcome))
        return f"val acc {outcome:.4f}"
    study.tell(trial, state=TrialState.FAIL)
    reason = outcome if isinstance(outcome, BaseException) else "no result (its status.json says why)"
    return f"failed: {reason}"


def _settle_left_running(study: optuna.Study, metric: str) -> None:
    """Tell the study how trials it still holds as RUNNING ended, where their run folders say so.

    A journal whose last record was set aside (torn by a crash) loses a trial's end: its folder still has
    its result. A trial of another live search sharing the study is left alone: its folder is in use.
    """
    from mlplab.status import read_status

    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        folder = trial.user_attrs.get("run_folder")
        if folder is None:
            continue  # its job never returned to a search: nothing says how it ended
        status = read_status(Path(folder)).get("status")
        if status == "running":
            continue
        try:
            value = json.loads((Path(folder) / "metrics.json").read_text()).get(metric)
        except (OSError, ValueError):
            value = None
        if status == "completed" and isinstance(value, (int, float)) and math.isfinite(value):
            study.tell(trial.number, float(value))
        else:
            study.tell(trial.number, state=TrialState.PRUNED if status == "pruned" else TrialState.FAIL)
        log.warning(f"trial {trial.number} was left running in the study; its folder says {status}: told so ({folder})")


def _write_results(study: optuna.Study, location: str, sweep_dir: Path) -> None:
    """Write the study's best trial so far into the sweep folder (the summary shows it)."""
    counts = {state.name.lower(): 0 for state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)}
    for trial in study.get_trials(deepcopy=False):
        if trial.state.name.lower() in counts:
            counts[trial.state.name.lower()] += 1
    results: dict[str, Any] = {"study": study.study_name, "storage": location, "trials": counts}
    if counts["complete"]:
        best = study.best_trial
        results |= {
            "best_trial": best.number,
            "best_value": best.value,
            "best_params": best.params,
            "best_run_folder": best.user_attrs.get("run_folder"),
        }
    OmegaConf.save(OmegaConf.create(results), sweep_dir / RESULTS)


def sampler_for(config: DictConfig, trials_so_far: int) -> optuna.samplers.BaseSampler:
    """The configured sampler; for a study resumed with trials in it, seeded `seed + trials so far`.

    Seeded as on its first start, a resumed search would draw its first trials' values again; seeded by
    where the study stands, it goes on to new values, and the same study state still gives the same search.
    """
    seed = config.get("seed")
    return instantiate(config, **({"seed": seed + trials_so_far} if seed is not None and trials_so_far else {}))


def _search(sweeper: Sweeper, arguments: list[str]) -> optuna.Study:
    settings = sweeper.settings
    space = search_space(OmegaConf.to_container(settings["params"] or OmegaConf.create()), arguments)
    _check(settings, space)
    _check_choices(sweeper, space)
    sweep_dir = Path(sweeper.config.hydra.sweep.dir)
    location = storage_location(settings["storage"], sweep_dir)
    storage = open_search_storage(location)  # first: a storage that cannot serve the study leaves no sweep folder
    sweep_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(sweeper.config, sweep_dir / "multirun.yaml")  # what job names and summaries read back
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # its per-trial lines repeat ours
    study = optuna.create_study(
        storage=storage,
        study_name=settings["study_name"],
        direction=settings["direction"],
        pruner=instantiate(settings["pruner"]),
        load_if_exists=True,
    )
    study.sampler = sampler_for(settings["sampler"], len(study.trials))
    _settle_left_running(study, str(sweeper.config.objective.metric))
    with warnings.catch_warnings():  # experimental since Optuna 3.2, and still in 5.1; only a label
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(["val acc"])  # what the dashboard calls the objective
    log.info(
        f"Optuna study '{study.study_name}' in {location}: {len(study.trials)} trials so far, "
        f"{settings['n_trials']} more, {settings['n_jobs']} at a time"
    )
    remaining = settings["n_trials"]
    while remaining > 0:
        trials = [study.ask(space.distributions) for _ in range(min(settings["n_jobs"], remaining))]
        batch = [[*trial_overrides(space, t.params), f"hydra.sweeper.trial={t.number}"] for t in trials]
        try:
            jobs = sweeper.launcher.launch(batch, initial_job_idx=trials[0].number)
        except BaseException:  # interrupted: the study must not keep these trials running forever
            for trial in trials:
                study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
            raise
        for trial, job in zip(trials, jobs, strict=True):
            with signals_held():  # a Ctrl-C inside the study's write would leave its database locked
                told = _tell(study, trial, job)
            log.info(f"trial {trial.number}: {told}")
        remaining -= len(trials)
    _write_results(study, location, sweep_dir)
    return study


def run_search(sweeper: Sweeper, arguments: list[str]) -> optuna.Study:
    """Run the search `sweeper.settings` describes; a bad setting stops it with one line and exit status 2."""
    try:
        return _search(sweeper, arguments)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
