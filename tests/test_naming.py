"""Run and job names: one rule, one spelling per value, one order, composed as Hydra composes a run."""

import re
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig

from mlplab.cli import CONF
from mlplab.config import register_configs
from mlplab.naming import name_part, split_folder_name
from mlplab.tensorboard_view import view_name


def _name(*overrides: str) -> str:
    """The folder name Hydra would give a single run of these overrides, less its date and time."""
    register_configs()
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        cfg = compose("train", overrides=list(overrides), return_hydra_config=True)
        HydraConfig.instance().set_config(cfg)  # the resolver reads Hydra's record of the run, as in a run
        return split_folder_name(Path(cfg.hydra.run.dir).name)[0]


@pytest.mark.parametrize(
    ("spellings", "name"),
    [
        ((["lr=small"], ["lr=0.1"], ["model.optimizer.lr=1e-1"]), "scratch-relu-lr0.1"),
        ((["hidden=256"], ["hidden=256x1"], ["model.hidden=[256]"]), "scratch-relu-h256x1"),
        ((["hidden=512x2"], ["model.hidden=[512,512]"]), "scratch-relu-h512x2"),
        ((["seed=1", "trainer.max_epochs=2"], ["trainer.max_epochs=2", "seed=1"]), "scratch-relu-seed=1-max_epochs=2"),
        ((["model=concise", "optimizer=adamw", "hidden=64"], ["hidden=64", "optimizer=adamw", "model=concise"]),
         "concise-relu-h64x1-adamw"),
    ],
)  # fmt: skip
def test_one_setting_has_one_name_however_it_is_typed(spellings: tuple[list[str], ...], name: str) -> None:
    assert {_name(*overrides) for overrides in spellings} == {name}


def test_a_preset_names_itself_then_its_model_and_activation() -> None:
    assert _name("experiment=fast", "trainer.max_epochs=2") == "fast-concise-relu-max_epochs=2"
    assert _name("lr=chapter") == "scratch-relu-lr0.391"  # the number that ran: 100/256, to 3 digits


def test_what_says_where_or_how_a_run_computes_is_not_named() -> None:
    assert _name("threads=1", "hparams_search=optuna", "data.data_dir=/somewhere", "accelerator=cpu") == "scratch-relu"


def test_parts_as_the_table_of_names_says() -> None:
    assert name_part("model.hidden=[512,128]") == "h512-128" and name_part("model.hidden=[64, 64, 64]") == "h64x3"
    assert name_part("data.data_dir=/somewhere") is None and name_part("threads=1") is None
    # Numbers as people read them, to 3 significant digits: an Optuna trial's lr no longer fills the name.
    assert name_part("model.optimizer.lr=0.05611516415334506") == "lr0.0561" and name_part("lr=1e-05") == "lr1e-05"
    assert name_part("hidden=512") == "h512x1" and name_part("model.hidden=[1024]") == "h1024x1"
    assert name_part("optimizer=adamw") == "adamw" and name_part("seed=7") == "seed=7"
    assert name_part("data.classes=[T-shirt/top,Trouser]") == "classes=T-shirt-top-Trouser", "no folder in a folder"


def test_a_long_name_keeps_every_part_that_fits() -> None:
    classes = "data.classes=[" + ",".join(f"class_number_{i}" for i in range(10)) + "]"  # far past 80 characters
    assert _name(classes, "seed=3") == "scratch-relu-seed=3"  # the long part left out, the short one after it kept


def test_beside_other_runs_a_job_carries_its_sweep_and_colours_by_it() -> None:
    from serve_tensorboard import BY_SWEEP, by_sweep

    outputs = Path("/project/outputs")
    runs = {
        outputs / "multirun" / "lr_study" / "0_concise-relu-lr0.1": "concise-relu-lr0.1@lr_study_0",
        outputs / "multirun" / "lr_study" / "1_concise-relu-lr0.5": "concise-relu-lr0.5@lr_study_1",
        outputs / "multirun" / "2026-12-02_12-08-08_152770" / "0_scratch-relu": "scratch-relu@12-02_12-08-08_0",
        outputs / "runs" / "2026-12-02_12-10-05_123456_concise-tanh": "concise-tanh_12-02_12-10-05",
    }
    assert {run: view_name(run, outputs) for run in runs} == runs
    groups = [re.search(BY_SWEEP, name).groups() for name in runs.values()]
    assert groups[0] == groups[1] and len(set(groups)) == 3, "one colour per sweep, one per single run"
    assert by_sweep("http://x/?smoothing=0", list(runs.values()))  # the link is printed
    assert not by_sweep("http://x/?smoothing=0", list(runs.values())[:2])  # one sweep alone: no such link
