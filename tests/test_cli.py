"""`python src/train.py ...` as a user types it, on synthetic data: refusals in-process, runs in a subprocess."""

import json
import signal
import sys
from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

from conftest import ROOT, tiny_overrides
from mlplab.cli import check_command_line, trainer_arguments
from mlplab.config import register_configs
from mlplab.errors import ConfigError
from processes import Process, command_line_answer, run, script, wait_until


def _run(*args: str, cwd: Path = ROOT):
    return run([sys.executable, str(ROOT / "src" / "train.py"), *args], cwd=cwd)


def _overrides(fake_data: Path, run_dir: Path) -> list[str]:
    # output_dir stays Hydra's own run folder here, as for a user: only the folder's place is moved.
    return [o for o in tiny_overrides(fake_data, run_dir) if not o.startswith("output_dir")] + [
        f"hydra.run.dir={run_dir}"
    ]


def test_a_run_says_what_runs_and_where_and_stays_quiet(fake_data: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = _run("model=concise", "activation=tanh", "hidden=64x2", "lr=0.2", *_overrides(fake_data, run_dir))
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "ConciseMLP 784-64-64-10, tanh, 55,050 parameters (50,240 + 4,160 + 650); SGD lr 0.2, 2 epochs of batch 64, "
        "32-true on cpu, seed 42"
    )
    assert lines[1] == f"run folder: {run_dir}"
    assert lines[2].startswith("data: ") and lines[3].startswith("epoch 1, loss ") and lines[4].startswith("epoch 2,")
    assert lines[5].startswith("test acc ")
    assert lines[6] == f"results in {run_dir}; compare runs: make tensorboard; evaluate: python src/eval.py {run_dir}"
    assert len(lines) == 7, "nothing of Lightning's on the console"
    assert "GPU available" not in result.stdout + result.stderr and "Warning" not in result.stderr

    log = (run_dir / "train.log").read_text()
    assert "epoch 2, loss" in log and "GPU available" in log, "the run's log keeps Lightning's lines"
    config = yaml.safe_load((run_dir / ".hydra" / "config.yaml").read_text())
    assert config["model"]["activation"] == "tanh" and config["model"]["_target_"] == "mlplab.models.ConciseMLP"
    assert (run_dir / "checkpoints" / "best.ckpt").is_file() and (run_dir / "metrics.json").is_file()


@pytest.mark.slow
def test_verbose_brings_lightnings_messages_back(fake_data: Path, tmp_path: Path) -> None:
    result = _run("-v", "trainer.max_epochs=1", *_overrides(fake_data, tmp_path / "run"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "GPU available" in result.stdout and "Total params" in result.stdout


@pytest.mark.slow
def test_runs_go_to_the_project_outputs_whatever_the_working_directory(fake_data: Path, tmp_path: Path) -> None:
    outputs = tmp_path / "project-outputs"
    overrides = [o for o in tiny_overrides(fake_data, tmp_path) if not o.startswith("output_dir")]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = _run(*overrides, "trainer.max_epochs=1", f"outputs={outputs}", cwd=elsewhere)
    assert result.returncode == 0, result.stderr[-3000:]
    (folder,) = (outputs / "runs").iterdir()
    assert not (elsewhere / "outputs").exists()
    assert (outputs / "latest").resolve() == folder.resolve()
    for name in ("eval.py", "resume.py"):  # outputs/latest stands for the newest run
        done = script(name, outputs / "latest")
        assert (done.returncode, name) == ((0 if name == "eval.py" else 2), name), done.stderr
    assert "has completed its 1 epoch;" in done.stderr
    # With the default `outputs`, runs land under the checkout's outputs/ (checked on the composed config).
    from hydra import compose, initialize_config_dir

    register_configs()
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("train", return_hydra_config=True)
    assert cfg.outputs == str(ROOT / "outputs")
    assert OmegaConf.to_container(cfg.hydra.run)["dir"].startswith("${outputs}/runs/")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["max_epochs=3"], "max_epochs is not a setting; did you mean trainer.max_epochs=3?"),
        (["+max_epochs=1"], "max_epochs is not a setting, and nothing would read it; did you mean trainer.max_epochs?"),
        (["+trainer.max_epochs=3"], "trainer.max_epochs exists already: drop the +, as in trainer.max_epochs=3"),
        (
            ["activation=tahn"],
            "activation=tahn is not an option; choose one of: elu, gelu, identity, leaky_relu, relu, sigmoid, silu, "
            "softplus, tanh (did you mean activation=tanh?)",
        ),
        (["experimnt=fast"], "experimnt is not a setting; did you mean experiment=fast?"),
        (["seed=abc"], "seed=abc is not allowed: Value 'abc' of type 'str' could not be converted to Integer"),
        (["model=1"], "model=1 is not an option; choose one of: concise, scratch"),
        (["hidden=abc"], "hidden=abc is not allowed: give a width (hidden=512), width x depth (hidden=512x3)"),
        (["lr=fast"], "lr=fast is not allowed: give a number > 0 (lr=0.1) or one of: chapter, large, small, tiny"),
        (["+trainer.foo=1"], "trainer.foo is not an argument of Lightning's Trainer"),
        (["-m", "activation=relu,tahn"], "activation=tahn is not an option"),
        (["-m", "lr=0.1,-1"], "lr=-1 is not allowed"),
    ],
)
def test_a_mistyped_command_line_is_one_line_exit_2_and_no_folder(
    fake_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    sweep = [f"hydra.sweep.dir={tmp_path / 'sweep'}"] if "-m" in args else []
    code, out, err = command_line_answer([*args, *sweep, *_overrides(fake_data, tmp_path / "run")], capsys)
    assert code == 2
    assert err.startswith(f"error: {message}") and err.count("\n") == 1, err
    assert out == "" and not (tmp_path / "run").exists() and not (tmp_path / "sweep").exists()


@pytest.mark.slow
def test_a_mistyped_command_line_in_a_real_process_is_answered_before_torch_is_imported(
    fake_data: Path, tmp_path: Path
) -> None:
    command = [sys.executable, "-X", "importtime", str(ROOT / "src" / "train.py"), "activation=tahn"]
    result = run([*command, *_overrides(fake_data, tmp_path / "run")])
    imports = [line for line in result.stderr.splitlines() if line.startswith("import time:")]
    imported = {line.split("|")[-1].strip().split(".")[0] for line in imports}
    assert "hydra" in imported and not imported & {"torch", "pytorch_lightning", "lightning_fabric"}, "checked first"
    errors = [line for line in result.stderr.splitlines() if not line.startswith("import time:")]
    assert (result.returncode, result.stdout) == (2, "")
    assert len(errors) == 1 and errors[0].startswith("error: activation=tahn is not an option;"), errors
    assert not (tmp_path / "run").exists()


def test_the_trainer_arguments_read_from_lightnings_source_are_those_of_its_signature() -> None:
    import inspect

    import pytorch_lightning as pl

    assert trainer_arguments() == set(inspect.signature(pl.Trainer.__init__).parameters) - {"self"}


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("seed=-1", "seed=-1 is not allowed: it must be in 0..4294967295"),
        ("seed=4294967296", "seed=4294967296 is not allowed"),
        ("trainer.check_val_every_n_epoch=0", "trainer.check_val_every_n_epoch=0 is not allowed"),
        ("callbacks.gradient_stats.every_n_steps=0", "callbacks.gradient_stats.every_n_steps=0 is not allowed"),
        ("trainer.precision=bogus", "trainer.precision=bogus is not allowed: choose one of: 32-true, bf16-mixed"),
        ("trainer.devices=0", "trainer.devices=0 is not allowed"),
        ("hidden=100000x30", "model.hidden=[100000,100000,100000,100000,... (30 in all)] is not allowed: "),
        ("model.optimizer.lr=true", "model.optimizer.lr=true is not allowed: the learning rate must be a number > 0"),
        ("lr=true", "lr=true is not allowed"),
        ("+trainer.limit_train_batches=0", "trainer.limit_train_batches=0 is not allowed"),
        ("data.batch_size=0", "data.batch_size=0 is not allowed"),
        (
            "+model.dropuot=0.1",
            "model.dropuot is not a setting, and nothing would read it; did you mean model.dropout?",
        ),
        ("+data.bar=2", "data.bar is not a setting, and nothing would read it"),
        ("trainer.limit_train_batches=5", "trainer.limit_train_batches is not in the config, but Lightning's "),
    ],
)
def test_every_value_is_checked_before_any_work(override: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        check_command_line([override], multirun=False)
    assert str(error.value).startswith(message), str(error.value)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["model=scratch", "optimizer=sgd"], "optimizer=sgd is not allowed with model=scratch, "),
        (["experiment=minute", "model=scratch"], "optimizer=adamw (from experiment=minute) is not allowed with "),
    ],
)
def test_an_optimizer_for_the_scratch_model_is_refused_in_the_words_of_the_command_line(
    args: list[str], message: str
) -> None:
    with pytest.raises(ConfigError) as error:
        check_command_line(args, multirun=False)
    assert str(error.value).startswith(message) and "leave the optimizer out with ~optimizer" in str(error.value)
    check_command_line([*args, "~optimizer"], multirun=False)  # what the line says works


@pytest.mark.parametrize(
    ("args", "hidden", "lr"),
    [
        (["hidden=512"], [512], 0.390625),
        (["hidden=128x3"], [128, 128, 128], 0.390625),
        (["hidden=[512,256]"], [512, 256], 0.390625),
        (["lr=0.1"], [256], 0.1),
        (["lr=small", "model=concise"], [256], 0.1),
        (["experiment=fast", "lr=0.2", "hidden=512"], [512], 0.2),
        (["experiment=wide"], [1024, 1024], 0.001),
        (["experiment=chapter_concise"], [256], 0.5),
    ],
)
def test_overrides_a_person_types_compose_with_presets(args: list[str], hidden: list[int], lr: float) -> None:
    from hydra import compose, initialize_config_dir

    check_command_line(args, multirun=False)
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=[*args, "output_dir=x"])
    assert list(cfg.model.hidden) == hidden and cfg.model.optimizer.lr == lr


@pytest.mark.slow
def test_hidden_and_lr_as_typed_train_what_they_say(fake_data: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = _run("hidden=32x3", "lr=0.2", "trainer.max_epochs=1", *_overrides(fake_data, run_dir))
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("ScratchMLP 784-32-32-32-10, relu,") and "ScratchSGD lr 0.2," in result.stdout


@pytest.mark.slow
def test_help_lists_the_groups_and_the_useful_keys() -> None:
    result = _run("--help")
    assert result.returncode == 0
    out = result.stdout
    assert out.startswith("Train an MLP on Fashion-MNIST, then test it")
    for line in ("activation: elu, gelu", "experiment: chapter_concise, chapter_scratch", "debug: fast, limit"):
        assert line in out, line
    for key in ("hidden=512 | 512x3 | [512,256]", "lr=0.1", "trainer.max_epochs=", "data.batch_size=", "seed="):
        assert key in out, key
    assert "Powered by Hydra" not in out


@pytest.mark.slow
def test_the_config_printed_resolved_names_the_folder_a_run_would_have_and_is_checked(tmp_path: Path) -> None:
    # Settings before the flags, and a folder name holding `=` (seed=7), as a run of this line names it.
    shown = _run("model=concise", "lr=0.1", "seed=7", f"outputs={tmp_path}", "--cfg", "all", "--resolve")
    assert shown.returncode == 0, shown.stderr[-3000:]
    cfg = yaml.safe_load(shown.stdout)
    folder = Path(cfg["output_dir"])
    assert folder.parent == tmp_path / "runs" and folder.name.endswith("_concise-relu-lr0.1-seed=7")
    assert cfg["hydra"]["run"]["dir"] == str(folder), "one folder in the whole printout"
    assert cfg["callbacks"]["last_checkpoint"]["dirpath"] == f"{folder}/checkpoints"
    assert not folder.exists(), "printing makes no folder"
    for args, refused in [
        (["-c", "job", "--resolve", "lr=-1"], "error: lr=-1 is not allowed"),
        (["--cfg", "job", "-m", "activation=relu,tanh"], "error: --cfg shows one run's config: leave out -m"),
        (["--cfg=job", "--resolve", "hparams_search=optuna"], "error: --cfg --resolve shows a single run's config"),
    ]:
        result = _run(*args)
        assert result.returncode == 2 and result.stderr.startswith(refused), (args, result.stderr[-2000:])
        assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_lightning_batch_flags_count_updates_whatever_the_grouping(fake_data: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = _run("+trainer.limit_train_batches=3", "data.batches_per_step=32", *_overrides(fake_data, run_dir))
    assert result.returncode == 0, result.stderr[-2000:]
    import torch

    assert torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 6, "2 epochs x 3"


@pytest.mark.slow
def test_debug_overfit_learns_one_batch_by_heart(fake_data: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = _run("debug=overfit", "lr=0.5", *_overrides(fake_data, run_dir), "trainer.max_epochs=150")
    assert result.returncode == 0, result.stderr[-2000:]
    epochs = [line for line in result.stdout.splitlines() if line.startswith("epoch ")]
    losses = [float(line.split("loss ")[1].split(",")[0]) for line in epochs]
    assert len(losses) == 150 and losses[-1] < 0.05 < losses[0], (losses[0], losses[-1])
    # By heart: even the batch's images drawn as another class (a fifth of them) are answered right.
    assert "train acc 1.000" in epochs[-1], epochs[-1]
    import torch

    assert torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 150, "1 per epoch"


@pytest.mark.slow
def test_debug_fast_and_the_csv_logger(fake_data: Path, tmp_path: Path) -> None:
    result = _run("debug=fast", *_overrides(fake_data, tmp_path / "fast"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "epoch 1, loss" in result.stdout and "epoch 2" not in result.stdout and "test acc" in result.stdout
    result = _run("logger=csv", "trainer.max_epochs=1", *_overrides(fake_data, tmp_path / "csv"))
    assert result.returncode == 0, result.stderr[-2000:]
    rows = (tmp_path / "csv" / "csv" / "metrics.csv").read_text().splitlines()
    assert "acc/val" in rows[0] and len(rows) >= 2


@pytest.mark.slow
def test_a_diverging_run_names_the_update_where_it_happened(fake_data: Path, tmp_path: Path) -> None:
    result = _run("lr=1e6", "data.batches_per_step=32", *_overrides(fake_data, tmp_path / "run"))
    assert result.returncode == 2
    line = next(line for line in result.stdout.splitlines() if line.startswith("error: "))
    update = int(line.split("update ")[1].split(";")[0])
    assert 1 <= update <= 8, "an update within the first step, not the step's last (32)"


@pytest.mark.slow
def test_a_sweep_preset_runs_as_a_sweep_without_dash_m(fake_data: Path, tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    overrides = [o for o in tiny_overrides(fake_data, tmp_path) if not o.startswith("output_dir")]
    result = _run("experiment=vanishing_gradients", *overrides, "trainer.max_epochs=1", f"hydra.sweep.dir={sweep}")
    assert result.returncode == 0, result.stderr[-2000:]
    jobs = sorted(p.name for p in sweep.iterdir() if (p / "metrics.json").is_file())
    assert len(jobs) == 3 and any("sigmoid" in j for j in jobs) and any("relu" in j for j in jobs), jobs
    labelled = [line for line in result.stdout.splitlines() if line.startswith("[") and "epoch 1, loss" in line]
    assert [line.split("]")[0][:4] for line in labelled] == ["[1/3", "[2/3", "[3/3"], labelled


@pytest.mark.slow
def test_histograms_work_for_both_models(fake_data: Path, tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    for model in ("scratch", "concise"):
        run_dir = tmp_path / model
        result = _run(
            f"model={model}",
            "callbacks.gradient_stats.histograms=true",
            "trainer.max_epochs=1",
            *_overrides(fake_data, run_dir),
        )
        assert result.returncode == 0, result.stderr[-2000:]
        events = EventAccumulator(str(run_dir / "tensorboard"))
        events.Reload()
        assert {"weights/layer1", "weight_grads/layer1", "weight_grads/layer2"} <= set(events.Tags()["histograms"])


@pytest.mark.slow
def test_ctrl_c_is_recorded_as_an_interruption_not_an_error(fake_data: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    process = Process(
        [sys.executable, str(ROOT / "src" / "train.py"), *_overrides(fake_data, run_dir), "trainer.max_epochs=5000"]
    )
    wait_until((run_dir / "checkpoints" / "last.ckpt").exists, "first checkpoint", process=process)
    process.send_signal(signal.SIGINT)
    assert process.finish(timeout=60)[0] == 130
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "interrupted" and status["signal"] == "SIGINT" and "error" not in status


@pytest.mark.parametrize(
    ("args", "answer"),
    [
        (["trainer.foo=1"], "error: trainer.foo is not a setting"),
        (["+foo=1"], "error: foo is not a setting, and nothing would read it"),
        (["trainer.max_epoch=3"], "error: trainer.max_epoch is not a setting; did you mean trainer.max_epochs=3?"),
        (["outputs="], "error: outputs= is not allowed: give a folder for the runs, e.g. outputs=runs"),
        (["~seed"], "error: data.seed: Interpolation key 'seed' not found"),
        (
            ["-m", "seed=range(1,5,0)"],
            "error: seed=range(1,5,0) is not a sweep Hydra can run: range() arg 3 must not be zero",
        ),
        (
            ["-m", "lr=interval(0.1,1)"],
            "error: lr=interval(0.1,1) is a range to search: only a search picks values from it (add "
            "hparams_search=optuna); for a grid, list the values: -m key=0.1,0.5",
        ),
        (
            ["activation=relu,tanh"],
            "error: activation=relu,tanh names several values: add -m to run one job per value "
            "(python src/train.py -m activation=relu,tanh)",
        ),
    ],
)
def test_hints_never_mislead_and_hydra_syntax_is_answered_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], answer: str
) -> None:
    folders = [f"hydra.run.dir={tmp_path / 'run'}", f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    code, out, err = command_line_answer([*args, *folders], capsys)
    assert (code, out) == (2, "") and err.startswith(answer) and err.count("\n") == 1, err
    assert list(tmp_path.iterdir()) == []


def test_valid_hydra_sweep_syntax_makes_the_jobs_hydra_would(capsys: pytest.CaptureFixture[str]) -> None:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from mlplab.cli import _jobs

    parsed = OverridesParser.create().parse_overrides(["seed=range(1,4)", "activation=glob(s*)", "~verbose"])
    jobs = list(_jobs(parsed))
    assert jobs[0] == ["seed=1", "activation=sigmoid", "~verbose"]
    assert len(jobs) == 1 + 2 + 2, "seeds 2 and 3, then silu and softplus"
    assert jobs[-1] == ["seed=1", "activation=softplus", "~verbose"]


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="checks what a machine without a GPU says")
def test_a_gpu_job_for_a_cluster_is_checked_where_it_runs_not_on_the_login_node(tmp_path: Path) -> None:
    sweep = f"hydra.sweep.dir={tmp_path / 'sweep'}"
    check_command_line(["hydra/launcher=slurm", "accelerator=gpu", sweep], multirun=True)  # no GPU here: fine
    with pytest.raises(ConfigError, match="accelerator=gpu is not allowed: no CUDA GPU is visible on this machine"):
        check_command_line(["accelerator=gpu", sweep], multirun=True)  # this machine trains it: refused now
