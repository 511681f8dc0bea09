"""The command line of src/train.py as a person types it: checked before Hydra starts, errors in one line.

Every job the command line describes is composed and checked first, so a typo, an unknown key or a
bad value stops the run with one line and exit status 2, before any folder is made or file written.
"""

import ast
import difflib
import importlib.util
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Glob, Override
from hydra.errors import HydraException, MissingConfigException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from mlplab.config import (
    PROJECT,
    DataConfig,
    ModelConfig,
    TrainConfig,
    check,
    check_search_objective,
    register_configs,
)
from mlplab.distributed import global_rank
from mlplab.errors import ConfigError, MlplabError, StorageError, describe_os_error
from mlplab.naming import JOB
from mlplab.run_folder import already_holds_a_run, claimed, holds_a_run
from mlplab.stop_signals import StoppedBeforeTraining, before_training

CONF = PROJECT / "conf"
TOP_LEVEL_KEYS = set(TrainConfig.__dataclass_fields__) | {"hydra", "hparams_search", "experiment", "debug"}


def run_command_line(hydra_main: Callable[[], Any]) -> None:
    """Check sys.argv's overrides, then hand the command line to Hydra's entry point."""
    if "TORCHELASTIC_RUN_ID" in os.environ:  # torchrun's processes would each make a run folder of their own
        if os.environ.get("RANK", "0") != "0":
            # Rank 0 says it; the others leave quietly with 0, since a rank that fails first makes torchrun
            # stop the rest, rank 0 too, perhaps before it has said anything.
            sys.exit(0)
        print(
            "error: torchrun is not supported; run `python src/train.py trainer=ddp trainer.devices=<n>` "
            "(Lightning starts the processes), or on SLURM hydra.launcher.tasks_per_node=<n>",
            file=sys.stderr,
        )
        sys.exit(2)
    args = ["verbose=true" if arg in ("-v", "--verbose") else arg for arg in sys.argv[1:]]
    sys.argv[1:] = args
    # Ctrl-C or SIGTERM in the seconds before a job takes over the signals (checks, imports, Hydra's
    # start, between a sweep's jobs): one line and the shell's exit status, not a traceback.
    sweep = "-m" in args or "--multirun" in args
    stop = before_training(sweep)
    previous = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    if previous[0] is signal.default_int_handler:  # not where Ctrl-C is ignored (a background job)
        signal.signal(signal.SIGINT, stop)
    if previous[1] is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, stop)
    try:
        _checked_and_run(args, hydra_main)
    except StoppedBeforeTraining as stopped:
        print(f"interrupted ({signal.Signals(stopped.signum).name}) between the sweep's jobs", file=sys.stderr)
        sys.exit(128 + stopped.signum)  # the sweep's summary is written at exit
    finally:
        for signum, handler in zip((signal.SIGINT, signal.SIGTERM), previous, strict=True):
            if signal.getsignal(signum) is stop:  # in-process callers (tests) get theirs back
                signal.signal(signum, handler)


def _checked_and_run(args: list[str], hydra_main: Callable[[], Any]) -> None:
    """The command line checked (the folder of a named single run claimed), then run by Hydra."""
    flags = [a for a in args if a.startswith("-")]
    positions = [i for i, a in enumerate(args) if not a.startswith("-") and (i == 0 or args[i - 1] not in VALUED_FLAGS)]
    overrides = [args[i] for i in positions]
    folder = None
    with ExitStack() as held:
        try:
            # Other DDP ranks rerun this command line (Lightning starts them so): rank 0 has checked it, and
            # made the run folder that a check would now find taken.
            if not set(flags) - {"-m", "--multirun"} and global_rank() == 0:  # --help and such are Hydra's
                folder = check_command_line(overrides, multirun=bool(flags))
            elif _shows_config(args) and ("-m" in args or "--multirun" in args):
                raise ConfigError(
                    "--cfg shows one run's config: leave out -m (a sweep's jobs are its values, one at a time)"
                )
            elif _shows_config(args) and "--resolve" in args:
                _give_the_run_folder(overrides, at=1 + (positions[-1] + 1 if positions else len(args)))
            # A folder the user named may be named by another run started at the same moment: the first to
            # claim it runs, the other stops before Hydra writes a file. A default name is unique to the microsecond.
            if folder is not None and any(a.startswith("hydra.run.dir=") for a in args):
                held.enter_context(claimed(folder))
        except MlplabError as err:
            print(f"error: {err}", file=sys.stderr)
            sys.exit(2)
        hydra_main()


# Hydra's flags that take a value: what follows them is no override.
VALUED_FLAGS = {"--cfg", "-c", "--package", "-p", "--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd"}


def _shows_config(args: list[str]) -> bool:
    """`--cfg job` (or hydra, all) in any of its spellings: Hydra prints the config instead of running."""
    return any(a in ("--cfg", "-c", "-cjob", "-chydra", "-call") or a.startswith("--cfg=") for a in args)


def _give_the_run_folder(overrides: list[str], at: int) -> None:
    """Check a `--cfg ... --resolve` line, and give Hydra's printout the folder a run of it would have.

    Hydra knows a job's folder only once the job runs, so `${hydra:runtime.output_dir}` (output_dir, and
    every path below it) would fail to resolve in the printout. The keys go in at sys.argv[at], beside the
    other overrides (Hydra's parser takes them as one list).
    """
    folder = check_command_line(overrides, multirun=False)
    if folder is None:
        raise ConfigError(
            "--cfg --resolve shows a single run's config; a search's trials get their folders as they "
            "start: leave out --resolve to see the config with its interpolations"
        )
    # Both keys, so that `--cfg all` shows one folder (each composition reads the clock anew); quoted: a
    # folder's name holds `=`.
    quoted = "'" + str(folder).replace("\\", "\\\\").replace("'", "\\'") + "'"
    given = {o.split("=", 1)[0] for o in overrides}
    sys.argv[at:at] = [f"{key}={quoted}" for key in ("hydra.run.dir", "hydra.runtime.output_dir") if key not in given]


def check_command_line(overrides: list[str], multirun: bool) -> Path | None:
    """Raise ConfigError for the first job of the command line that does not compose or check.

    Returns the run's folder for a single run, None for a multirun.
    """
    register_configs()
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except HydraException as err:
        raise ConfigError(f"cannot read the command line: {_first_line(err)}") from None
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3", job_name="train"):
        cfg = None
        for number, job in enumerate(_jobs(parsed)):
            cfg = _composed(job)
            if number == 0:  # the first job says which sweeper runs the command line
                _check_sweep_syntax(parsed, multirun or cfg.hydra.mode == RunMode.MULTIRUN, cfg)
            _check_job(cfg)
            if _is_search(cfg):
                check_search_objective(cfg)
        assert cfg is not None
        HydraConfig.instance().set_config(cfg)  # the folder names' resolvers read Hydra's record of the job
        if multirun or cfg.hydra.mode == RunMode.MULTIRUN:
            _check_sweep_folder(Path(cfg.hydra.sweep.dir), search=_is_search(cfg))
            return None
        _check_run_folder(Path(cfg.hydra.run.dir))
        return Path(cfg.hydra.run.dir)


def _check_sweep_syntax(parsed: list[Override], multirun: bool, cfg: DictConfig) -> None:
    """Values to sweep need -m; a range to search (interval) needs a search, which picks values from it."""
    search = _is_search(cfg)
    for override in parsed:
        if not override.is_sweep_override():
            continue
        line = override.input_line
        if override.is_interval_sweep() and not search:
            raise ConfigError(
                f"{line} is a range to search: only a search picks values from it (add hparams_search=optuna); "
                "for a grid, list the values: -m key=0.1,0.5"
            )
        if not multirun:
            raise ConfigError(
                f"{line} names several values: add -m to run one job per value (python src/train.py -m {line})"
            )


def _is_search(cfg: DictConfig) -> bool:
    """Whether the command line runs a hyperparameter search (hparams_search=optuna) rather than a grid."""
    return "optuna" in str(cfg.hydra.sweeper.get("_target_", ""))


def _jobs(parsed: list[Override]) -> Iterator[list[str]]:
    """The overrides of one job per swept value (each value once, the others at their first)."""
    options: dict[str, list[str]] = {}  # key -> the override as each job gets it
    for override in parsed:
        key = override.get_key_element()
        if not override.is_sweep_override():
            options[key] = [override.input_line]  # verbatim: +key=, ~key and key= alike
        elif override.is_interval_sweep():
            options[key] = []  # a search's range: Hydra and the sweeper check it
        elif isinstance(override.value(), Glob):  # glob(s*): over a group's options, as Hydra's sweeper expands it
            group = CONF / key.lstrip("+~")
            names = sorted(path.stem for path in group.glob("*.yaml")) if group.is_dir() else []
            options[key] = [f"{key}={name}" for name in override.value().filter(names)]
            if not options[key]:
                raise ConfigError(f"{override.input_line} matches no option; choose among: {', '.join(names)}")
        else:
            try:
                options[key] = [f"{key}={value}" for value in override.sweep_string_iterator()]
            except Exception as err:  # noqa: BLE001 - range(1,5,0) and such: Hydra's own words, in one line
                raise ConfigError(f"{override.input_line} is not a sweep Hydra can run: {_first_line(err)}") from None
            if not options[key]:
                raise ConfigError(f"{override.input_line} sweeps over no values; give at least one")
    first = {key: values[:1] for key, values in options.items()}
    yield [value[0] for value in first.values() if value]
    for key, values in options.items():
        for value in values[1:]:
            yield [value if k == key else o[0] for k, o in first.items() if o]


def _composed(overrides: list[str]) -> DictConfig:
    """conf/train.yaml with these overrides, Hydra's own node included; its errors as ConfigError."""
    try:
        return compose("train", overrides=overrides, return_hydra_config=True)
    except MissingConfigException as err:
        raise ConfigError(_unknown_option(err, overrides)) from None
    except (HydraException, OmegaConfBaseException, ValueError) as err:
        raise ConfigError(_composition_error(err, overrides)) from None


def _check_job(cfg: DictConfig) -> None:
    """Refuse keys nothing reads (added with +), then check every value's range."""
    job = cfg.copy()
    with open_dict(job):
        del job["hydra"]
        job.output_dir = "pending"  # Hydra's ${hydra:runtime.output_dir} exists only inside a run
    for key in job:
        if key not in TOP_LEVEL_KEYS:
            raise ConfigError(f"{key} is not a setting, and nothing would read it{_did_you_mean(str(key), cfg)}")
    for group, schema in (("model", ModelConfig), ("data", DataConfig)):  # built from their keys: one more fails
        for key in sorted(set(job[group]) - set(schema.__dataclass_fields__)):
            name = f"{group}.{key}"
            raise ConfigError(f"{name} is not a setting, and nothing would read it{_did_you_mean(name, cfg)}")
    _check_trainer_arguments(job)
    _check_optimizer_choice(cfg)
    elsewhere = "slurm" in str(cfg.hydra.launcher.get("_target_", "")).lower()  # a job submitted to a cluster
    check(job, on_this_machine=not elsewhere)


def _check_optimizer_choice(cfg: DictConfig) -> None:
    """The optimizer group is the concise model's: say so in the words of the command line (or its preset)."""
    choices = cfg.hydra.runtime.choices
    optimizer = choices.get("optimizer")
    if choices.get("model") != "scratch" or optimizer is None:
        return
    typed = any(o.split("=", 1)[0].lstrip("+~") == "optimizer" for o in cfg.hydra.overrides.task)
    source = "" if typed or choices.get("experiment") is None else f" (from experiment={choices.experiment})"
    raise ConfigError(
        f"optimizer={optimizer}{source} is not allowed with model=scratch, which steps with its hand-written "
        f"ScratchSGD: leave the optimizer out with ~optimizer{' lr=chapter' if source else ''}, or use model=concise"
    )


def trainer_arguments() -> set[str]:
    """The keyword arguments of pytorch_lightning.Trainer, read from its source file.

    Importing Lightning to ask takes seconds; its source says the same (a test compares the two).
    """
    package = importlib.util.find_spec("pytorch_lightning")  # finds the package without importing it
    source = Path(package.origin).parent / "trainer" / "trainer.py"
    tree = ast.parse(source.read_text(), str(source))
    trainer = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "Trainer")
    init = next(node for node in trainer.body if isinstance(node, ast.FunctionDef) and node.name == "__init__")
    return {a.arg for a in (*init.args.args, *init.args.kwonlyargs)} - {"self"}


def _check_trainer_arguments(cfg: DictConfig) -> None:
    allowed = trainer_arguments()
    for key in cfg.trainer:
        if key != "_target_" and key not in allowed:
            close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            hint = f"; did you mean trainer.{close[0]}?" if close else ""
            raise ConfigError(f"trainer.{key} is not an argument of Lightning's Trainer{hint}")


def _check_run_folder(folder: Path) -> None:
    """A single run's folder: new, or empty; never a file or another run's folder."""
    if folder.is_file():
        raise ConfigError(f"hydra.run.dir={folder} is not allowed: it is a file; give a folder")
    if holds_a_run(folder):
        raise ConfigError(already_holds_a_run(folder))
    _check_writable(folder, "hydra.run.dir")


def _check_sweep_folder(folder: Path, search: bool) -> None:
    """A grid's folder: new, or without jobs; its job folders are numbered from 0 and would take the old ones'.

    A search's folder may hold its earlier trials: its study goes on there, numbering trials on.
    """
    if not search and folder.is_dir():
        jobs = sorted(job.name for job in folder.iterdir() if JOB.match(job.name) and holds_a_run(job))
        if jobs:
            raise ConfigError(
                f"hydra.sweep.dir={folder} already holds a sweep's jobs ({', '.join(jobs[:2])}"
                f"{', ...' if len(jobs) > 2 else ''}): give a new folder, or leave hydra.sweep.dir out"
            )
    _check_writable(folder, "hydra.sweep.dir")


def _check_writable(folder: Path, key: str) -> None:
    """Make sure files can be created in `folder` (or the nearest existing folder above it)."""
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"{key}={folder} is not allowed: {existing} is a file")
    probe = existing / f".mlplab-probe-{os.getpid()}"
    try:
        probe.touch()
        probe.unlink()
    except OSError as err:
        raise StorageError(f"cannot write to {existing}: {describe_os_error(err)}; give a writable {key}") from None


def _first_line(err: BaseException) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


def _unknown_option(err: MissingConfigException, overrides: list[str]) -> str:
    """`activation=tahn is not an option; choose one of: ...`, with the closest spelling."""
    group, _, missing = (err.missing_cfg_file or "").rpartition("/")
    typed = next((o.split("=", 1)[1] for o in overrides if o.lstrip("+~").split("=", 1)[0] == group), None)
    options = list(err.options or []) or (sorted(p.stem for p in (CONF / group).glob("*.yaml")) if group else [])
    if typed is None or not options:
        return _first_line(err)
    if typed.startswith("["):  # logger=[tensorboard,cvs]: name the one item that is not an option
        close = difflib.get_close_matches(missing, options, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        return f"{group}={typed}: {missing} is not an option; choose among: {', '.join(options)}{hint}"
    close = difflib.get_close_matches(typed, options, n=1)
    hint = f" (did you mean {group}={close[0]}?)" if close else ""
    return f"{group}={typed} is not an option; choose one of: {', '.join(options)}{hint}"


def _composition_error(err: BaseException, overrides: list[str]) -> str:
    """Hydra's composition errors, said once, with the spelling that works."""
    message = str(err)
    if "Could not override '" in message or "Could not append to config" in message:
        key = message.split("'")[1]
        value = next((o.split("=", 1)[1] for o in overrides if o.lstrip("+~").split("=", 1)[0] == key), "...")
        if "Could not append" in message:
            return f"{key} exists already: drop the +, as in {key}={value}"
        if key.startswith("trainer.") and key.removeprefix("trainer.") in trainer_arguments():
            return f"{key} is not in the config, but Lightning's Trainer takes it: add it with +{key}={value}"
        base = _base_config()
        return f"{key} is not a setting{_did_you_mean(key, base, value)}"
    if "Config group override must be a string" in message:  # e.g. model=1: a number where a name goes
        for override in overrides:
            group, _, value = override.lstrip("+~").partition("=")
            if (CONF / group).is_dir() and not (CONF / group / f"{value}.yaml").is_file():
                options = ", ".join(sorted(p.stem for p in (CONF / group).glob("*.yaml")))
                return f"{group}={value} is not an option; choose one of: {options}"
    if message.startswith("Error merging override "):  # a value of the wrong type, e.g. seed=abc
        override = message.removeprefix("Error merging override ").strip()
        cause = err.__cause__ or err
        return f"{override} is not allowed: {_first_line(cause)}"
    return _first_line(err)


def _did_you_mean(key: str, cfg: DictConfig, value: str | None = None) -> str:
    """'; did you mean trainer.max_epochs=3?' for the setting whose name is closest to `key`."""
    leaves = [k for k in _leaf_keys(OmegaConf.to_container(cfg)) if not k.startswith("hydra.") and k != key]
    last = key.rsplit(".", 1)[-1]
    same_name = [k for k in leaves if k.rsplit(".", 1)[-1] == last]
    parent = key.rsplit(".", 1)[0] + "." if "." in key else ""
    inside = [k for k in leaves if k.startswith(parent) and "." not in k[len(parent) :]] if parent else []
    if inside:  # trainer.foo: the keys of trainer, by their own names; never the group trainer itself
        names = {k[len(parent) :]: k for k in inside}
        close = same_name or [names[n] for n in difflib.get_close_matches(last, list(names), n=1, cutoff=0.6)]
    else:
        leaves += sorted(p.name for p in CONF.iterdir() if p.is_dir() and p.name != "hydra")  # the groups
        close = same_name or difflib.get_close_matches(key, leaves, n=1, cutoff=0.6)
    if not close:
        return ""
    return f"; did you mean {close[0]}={value}?" if value is not None else f"; did you mean {close[0]}?"


def _leaf_keys(tree: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _leaf_keys(value, f"{prefix}{key}.")
    else:
        yield prefix.rstrip(".")


def _base_config() -> DictConfig:
    return compose("train", overrides=[], return_hydra_config=False)
