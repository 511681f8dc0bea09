"""The README's commands run as written: every one that trains, sweeps, resumes, evaluates or predicts.

Each command of the README's ```bash blocks is run in order in one folder, as a user would type it,
with a tiny budget appended (synthetic data, one epoch, outputs in the folder), so that eval, predict
and resume find the runs the commands before them made (`outputs/latest`). `make` commands run what
`make -n` says they run. The `$ ...` examples of the README's plain blocks must print what it shows.
"""

import re
import shlex
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import processes
from conftest import ROOT
from mlplab.data.idx import read_idx
from mlplab.data.locate import FILES

README = ROOT / "README.md"
SCRIPTS = ("src/train.py", "src/resume.py", "src/eval.py", "src/predict.py")
MAKE_TARGETS = ("train", "sweep", "search")  # the make targets that train; the others serve or test


def code_blocks(language: str) -> list[str]:
    """The text of each of the README's fenced blocks opened with ```<language> (plain blocks: "")."""
    blocks, current, open_as = [], [], None
    for line in README.read_text().splitlines():
        if line.startswith("```"):
            if open_as is None:
                open_as, current = line[3:].strip(), []
            else:
                if open_as == language:
                    blocks.append("\n".join(current) + "\n")
                open_as = None
        elif open_as is not None:
            current.append(line)
    return blocks


def bash_lines() -> list[str]:
    """Every command line of the README's ```bash blocks, continuations joined, comments dropped."""
    lines = []
    for block in code_blocks("bash"):
        for line in block.replace("\\\n", " ").splitlines():
            command = re.sub(r"\s+#\s.*$", "", line).strip()
            if command:
                lines.append(command)
    return lines


def as_argv(command: str) -> list[str] | None:
    """The python command a README line runs (a make target through `make -n`), or None if it trains nothing."""
    words = shlex.split(command)
    if words[0] == "make" and len(words) > 1 and words[1] in MAKE_TARGETS:
        dry_run = processes.run(
            ["make", "-n", "-o", ".venv/.installed", *words[1:]], cwd=ROOT, capture_output=True, text=True, check=True
        )
        recipe = dry_run.stdout.replace("\\\n", " ")
        words = shlex.split(next(line for line in recipe.splitlines() if "src/train.py" in line))
        words[0] = "python"
    if words[0] != "python" or len(words) < 2 or words[1] not in SCRIPTS:
        return None
    return words


def readme_runs(on_slurm: bool = False) -> list[list[str]]:
    """The README's commands that train, sweep, resume, evaluate or predict, in order, each once.

    Those sent to SLURM (hydra/launcher=slurm) need a cluster: tests/test_slurm.py runs them on one.
    """
    runs: list[list[str]] = []
    for line in bash_lines():
        argv = as_argv(line)
        if argv is not None and argv not in runs and ("hydra/launcher=slurm" in argv) == on_slurm:
            runs.append(argv)
    return runs


def tiny_budget(argv: list[str], data: Path, outputs: Path) -> list[str]:
    """The command with synthetic data, outputs here, and its budget forced to one epoch and two trials."""
    forced = {"trainer.max_epochs": "1", "hydra.sweeper.n_trials": "2"}
    budget = {
        "data.data_dir": str(data),
        "data.system_dir": "/nonexistent",
        "data.download": "false",
        "data.val_size": "200",  # the synthetic training set has 1,200 images, fewer than the default 5,000
        "outputs": str(outputs),
    } | forced
    if "hparams_search=optuna" not in argv:
        del budget["hydra.sweeper.n_trials"]
    words = [word for word in argv[2:] if word.split("=", 1)[0] not in forced]
    given = {word.split("=", 1)[0] for word in words}
    return words + [f"{key}={value}" for key, value in budget.items() if key not in given]


def write_images_named_in(argv: list[str], folder: Path, data: Path) -> None:
    """The images a predict command names, cut from the synthetic test set: the README's shoe.png and shirt.png."""
    images = read_idx(data / (FILES["test_images"] + ".gz"), ndim=3).numpy()
    for i, name in enumerate(word for word in argv if word.endswith(".png")):
        Image.fromarray(images[i].astype(np.uint8)).save(folder / name)


def test_the_readme_shows_a_command_of_each_kind() -> None:
    runs = [" ".join(argv) for argv in readme_runs()]
    for kind in ("src/train.py -m ", "hparams_search=optuna", "src/resume.py", "src/eval.py", "src/predict.py"):
        assert any(kind in run for run in runs), f"no README command runs {kind!r}: {runs}"


def _run_readme_command(argv: list[str], data: Path, folder: Path) -> None:
    """Run one README command in `folder` with the tiny budget; fail on its exit status or an error line."""
    command = [sys.executable, str(ROOT / argv[1]), *argv[2:]]
    if argv[1] == "src/train.py":
        command[2:] = tiny_budget(argv, data, folder / "outputs")
    if argv[1] == "src/predict.py":
        write_images_named_in(argv, folder, data)
    result = processes.run(command, cwd=folder)
    output = result.stdout + result.stderr
    # A sweep's failed job does not fail the sweep: its error line does.
    assert result.returncode == 0 and "error:" not in output and "Traceback" not in output, (
        f"{' '.join(argv)}: exit {result.returncode}\n{output[-1500:]}"
    )


TRAINS = [argv for argv in readme_runs() if argv[1] == "src/train.py"]
READS = [argv for argv in readme_runs() if argv[1] != "src/train.py"]  # eval, predict, resume: outputs/latest


@pytest.mark.slow
@pytest.mark.parametrize("argv", TRAINS, ids=[" ".join(argv[2:]) or "defaults" for argv in TRAINS])
def test_a_readme_command_that_trains_runs(argv: list[str], fake_data: Path, tmp_path: Path) -> None:
    _run_readme_command(argv, fake_data, tmp_path)


@pytest.mark.slow
def test_the_readme_commands_that_evaluate_predict_and_resume_run_on_the_newest_run(
    fake_data: Path, tmp_path: Path
) -> None:
    """They read outputs/latest: the README's first training command makes it, then each runs in order."""
    _run_readme_command(TRAINS[0], fake_data, tmp_path)
    for argv in READS:
        _run_readme_command(argv, fake_data, tmp_path)


def console_examples() -> list[tuple[str, str]]:
    """The `$ command` lines of the README's plain blocks, each with the lines it is shown to print."""
    examples = []
    for block in code_blocks(""):
        for chunk in re.split(r"^\$ ", block, flags=re.M)[1:]:
            command, *shown = chunk.strip().splitlines()
            examples.append((command, "\n".join(shown)))
    return examples


@pytest.mark.parametrize("command, shown", console_examples())
def test_a_readme_console_example_prints_what_it_shows(
    command: str, shown: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    words = shlex.split(command)
    assert words[:2] == ["python", "src/train.py"], command
    code, out, err = processes.command_line_answer([*words[2:], f"outputs={tmp_path}"], capsys)
    assert (code, out, err.strip()) == (2, "", shown)
    assert not any(tmp_path.iterdir()), "a refused command line writes nothing"


def test_every_docs_page_is_linked_from_the_readme() -> None:
    readme = README.read_text()
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert f"](docs/{page.name})" in readme, f"docs/{page.name} is not linked from README.md"
