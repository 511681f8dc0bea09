"""What TensorBoard shows first, asked of a real server through its HTTP API: on a sweep and on outputs/."""

import json
import os
import re
import socket
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import processes
from conftest import ROOT, tiny_overrides
from mlplab.hparams import hparam_name
from mlplab.naming import split_folder_name

# Every test here trains sweeps or serves TensorBoard in processes of their own.
pytestmark = pytest.mark.slow

SWEPT = ("model=scratch,concise", "activation=relu,tanh")
JOBS = ("0_scratch-relu", "1_scratch-tanh", "2_concise-relu", "3_concise-tanh")
TINY = "batch_size=64-val_size=200-max_epochs=2"  # what every job of _train sets besides: in its name too


def _train(fake_data: Path, cwd: Path, *args: str) -> None:
    """src/train.py as a user runs it, its folders in cwd/outputs/ (as they would be in the project's)."""
    overrides = [o for o in tiny_overrides(fake_data, cwd) if not o.startswith(("output_dir", "trainer.max_epochs"))]
    command = [sys.executable, str(ROOT / "src" / "train.py"), *args, *overrides, "trainer.max_epochs=2"]
    command.append(f"outputs={cwd / 'outputs'}")
    result = processes.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.fixture(scope="module")
def outputs(fake_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """outputs/ holding a 4-job model x activation sweep and two single runs, which differ in more.

    Six settings differ: alphabetically, model would be sixth and TensorBoard shows five.
    """
    cwd = tmp_path_factory.mktemp("project")
    _train(fake_data, cwd, "-m", *SWEPT)
    _train(fake_data, cwd, "activation=sigmoid")
    _train(fake_data, cwd, "model=concise", "hidden=512x2", "model.dropout=0.2", "model.init_std=0.02")
    assert (cwd / "outputs" / "latest").is_symlink()  # the newest run's pointer: no run of its own
    return cwd / "outputs"


class TensorBoard:
    """`src/serve_tensorboard.py <folder>` on a free port of 127.0.0.1, asked through TensorBoard's HTTP API."""

    def __init__(self, port: int, server: processes.Process) -> None:
        self.port, self.server = port, server

    def get(self, path: str, body: dict | None = None) -> object:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data)
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=30) as reply:
            return json.loads(reply.read())

    def experiment(self) -> dict:
        """What HPARAMS lists: hyperparameters (TensorBoard's own order) and metrics."""
        return self.get("/data/plugin/hparams/experiment", {"experimentName": "", "includeMetrics": True})

    def rows(self) -> list[dict]:
        """HPARAMS's table: one session group per run, with its values and final metrics."""
        body = {"experimentName": "", "allowedStatuses": ["STATUS_SUCCESS", "STATUS_UNKNOWN"], "colParams": [],
                "startIndex": 0, "sliceSize": 100}  # fmt: skip
        return self.get("/data/plugin/hparams/session_groups", body)["sessionGroups"]

    def scalars(self, run: str, tag: str) -> list[list[float]]:
        query = urllib.parse.urlencode({"run": run, "tag": tag})
        return self.get(f"/data/plugin/scalars/scalars?{query}")


@contextmanager
def served(folder: Path) -> Iterator[tuple[TensorBoard, str]]:
    """Serve `folder` as `make tensorboard DIR=<folder>` does; yield the server and what it printed first."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, str(ROOT / "src" / "serve_tensorboard.py"), str(folder), "--port", str(port)]
    server = processes.Process(command)
    board = TensorBoard(port, server)

    def every_session_read() -> bool:  # TensorBoard has read every run's session
        try:
            return bool(board.rows()) and len(board.rows()) == len(board.get("/data/runs"))
        except OSError:
            return False

    try:
        processes.wait_until(lambda: "Ctrl-C stops it" in server.output(), "the guide", process=server)
        guide = server.output().split("Ctrl-C stops it")[0]
        processes.wait_until(every_session_read, "every run in HPARAMS", timeout=90, process=server)
        yield board, guide
    finally:
        server.terminate()
        server.wait(timeout=30)


def _first_tag_groups(board: TensorBoard) -> list[str]:
    """The Time Series groups in the order it shows them (the first two open): each tag's first path part."""
    tags = set()
    for plugin in ("scalars", "images", "histograms"):
        for run_tags in board.get(f"/data/plugin/{plugin}/tags").values():
            tags |= set(run_tags)
    return sorted({tag.split("/", 1)[0] for tag in tags})


def _check_opens_on_what_differs(board: TensorBoard, swept: set[str], runs: int) -> list[dict]:
    experiment = board.experiment()
    hparams = [h["displayName"] for h in experiment["hparamInfos"]]  # TensorBoard's order, as labelled
    differing = {h["displayName"] for h in experiment["hparamInfos"] if h["differs"]}
    assert swept <= differing and set(hparams) == differing, f"only what differs is listed: {hparams}"
    assert [m["name"]["tag"] for m in experiment["metricInfos"][:2]] == ["acc/test", "acc/val"]
    model = next(h for h in experiment["hparamInfos"] if h["displayName"] == "model")
    assert model["type"] == "DATA_TYPE_STRING" and model["domainDiscrete"] == ["concise", "scratch"]
    rows = board.rows()
    assert len(rows) == runs and sorted(board.get("/data/runs")) == sorted(row["name"] for row in rows), "no '.' run"
    assert not any(".hydra" in row["name"] or "tensorboard" in row["name"] for row in rows)
    assert _first_tag_groups(board)[:2] == ["acc", "loss"], "Time Series opens on accuracy and loss"
    return rows


def test_a_sweep_opens_on_its_swept_choices_against_test_accuracy(outputs: Path) -> None:
    (sweep,) = (outputs / "multirun").iterdir()
    with served(sweep) as (board, guide):
        rows = _check_opens_on_what_differs(board, {"model", "activation"}, runs=4)
        names = sorted(row["name"] for row in rows)
        assert names == [f"{job}-{TINY}" for job in JOBS]
        for row in rows:
            final = {m["name"]["tag"]: m["value"] for m in row["metricValues"]}
            recorded = json.loads((sweep / row["name"] / "metrics.json").read_text())
            assert final["acc/test"] == pytest.approx(recorded["acc/test"]) and "hp/test_acc" not in final
            values = [row["hparams"][hparam_name("model")], row["hparams"][hparam_name("activation")]]
            assert values == row["name"][2:].split("-")[:2]
            # test accuracy where the curves end, not a dot at step 0
            assert board.scalars(row["name"], "acc/test")[-1][1] == board.scalars(row["name"], "acc/train")[-1][1]
        tags = board.get("/data/plugin/scalars/tags")[f"{JOBS[0]}-{TINY}"]
        # TIME SERIES sorts cards by tag (acc/test first): the printed link pins the validation curves above.
        link = next(word for word in guide.split() if word.endswith("#timeseries"))
        pinned = json.loads(urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)["pinnedCards"][0])
        assert pinned == [{"plugin": "scalars", "tag": "acc/val"}, {"plugin": "scalars", "tag": "loss/val"}]
        assert all({"acc/val", "loss/val"} <= set(t) for t in board.get("/data/plugin/scalars/tags").values())
        assert link.startswith(f"http://127.0.0.1:{board.port}/?")
        assert [t for t in tags if t.startswith("lr")] == ["lr"], "one lr tag for every optimiser"
        # Evaluating a run while it is served: its results join the run in the view.
        evaluate = [sys.executable, str(ROOT / "src" / "eval.py"), str(sweep / f"{JOBS[0]}-{TINY}")]
        assert processes.run(evaluate, capture_output=True, timeout=300).returncode == 0
        evaluated = lambda: "results/last/test_acc" in board.get("/data/plugin/scalars/tags")[f"{JOBS[0]}-{TINY}"]  # noqa: E731
        processes.wait_until(evaluated, "eval's events in the served run", timeout=60, process=board.server)
    assert f"{sweep}" in guide and "#hparams" in guide and "smoothing=0" in guide
    with pytest.raises(OSError):
        board.rows()  # stopped with its TensorBoard: nothing left serving


def test_all_of_outputs_names_each_run_by_what_distinguishes_it(outputs: Path) -> None:
    with served(outputs) as (board, guide):
        rows = _check_opens_on_what_differs(board, {"model", "activation", "hidden"}, runs=6)
    names = [row["name"] for row in rows]
    assert len({name[:15] for name in names}) == 6, f"HPARAMS shows about 15 characters of a name: {names}"
    assert sum(n.startswith(("scratch-sigmoid-", "concise-relu-h512x2-")) for n in names) == 2, names
    # Shown beside other runs, a sweep's job carries its sweep (when it started) and its number.
    (sweep,) = (outputs / "multirun").iterdir()
    stamp = split_folder_name(sweep.name)[1]
    jobs = sorted(n for n in names if f"@{stamp}_" in n)
    assert jobs == sorted(f"{job[2:]}-{TINY}@{stamp}_{job[0]}" for job in JOBS), names
    # TensorBoard's 7 colours do not go round 6 runs: the printed link colours by sweep, each single run its own.
    link = next(word for word in guide.split() if "runColorGroup" in word)
    colour = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)["runColorGroup"][0]
    assert colour.startswith("regex:")
    groups = [re.search(colour.removeprefix("regex:"), name).groups() for name in names]
    assert len(set(groups)) == 3 and len({groups[names.index(job)] for job in jobs}) == 1, groups


def test_run_and_job_folders_are_named_by_their_values(outputs: Path) -> None:
    singles = sorted(split_folder_name(run.name)[0] for run in (outputs / "runs").iterdir())
    assert singles == [
        # In one order whatever the command line's; past 80 characters the last parts are left out.
        "concise-relu-h512x2-batch_size=64-val_size=200-dropout=0.2-init_std=0.02",
        "scratch-sigmoid-batch_size=64-val_size=200-max_epochs=2",
    ]
    # The same rule names a sweep's jobs: a job reads as a single run with the same settings would.
    assert sorted(p.name for p in next((outputs / "multirun").iterdir()).iterdir() if p.is_dir()) == sorted(
        f"{job}-{TINY}" for job in JOBS
    )
    assert split_folder_name("2026-12-02_12-10-05_123456_concise-tanh") == ("concise-tanh", "12-02_12-10-05")


@pytest.mark.parametrize(("folder", "message"), [("missing", "is not a folder"), ("empty", "no runs with TensorBoard")])
def test_serving_a_folder_without_runs_says_so_and_exits_2(tmp_path: Path, folder: str, message: str) -> None:
    (tmp_path / "empty").mkdir()
    command = [sys.executable, str(ROOT / "src" / "serve_tensorboard.py"), str(tmp_path / folder)]
    views = tmp_path / "tmp"
    views.mkdir()
    env = {**os.environ, "TMPDIR": str(views)}
    result = processes.run(command, capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert not list(views.iterdir()), "the temporary view is removed"
