"""The suite itself: a hung test is cut off with a clear message, and what it started does not live on."""

import os
import sys
import time
from pathlib import Path

import processes
from conftest import ROOT

HUNG = """
from pathlib import Path

from processes import Process


def test_waits_for_a_script_that_never_ends():
    child = Process(["sleep", "600"])
    Path("{pid_file}").write_text(str(child.pid))
    child.wait()
"""


def test_a_hung_test_is_cut_off_with_its_name_and_where_it_waited(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    (tmp_path / "test_hung.py").write_text(HUNG.format(pid_file=pid_file))
    # The project's own pytest settings and process helpers (-p processes), with a 2-second limit.
    command = [sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(tmp_path),
               "-p", "no:cacheprovider", "-p", "processes", "-n", "0", "--timeout=2", "test_hung.py"]  # fmt: skip
    started = time.monotonic()
    env = os.environ | {"PYTHONPATH": str(ROOT / "tests")}
    result = processes.run(command, cwd=tmp_path, timeout=120, env=env)
    assert time.monotonic() - started < 60
    assert result.returncode == 1, result.stdout[-3000:]
    assert "Timeout (>2.0s)" in result.stdout and "FAILED test_hung.py::test_waits_for_a_script_that_never_ends" in (
        result.stdout
    )
    assert "child.wait()" in result.stdout, "the report shows where the test waited"
    child = int(pid_file.read_text())
    processes.wait_until(lambda: not _alive(child), "the hung test's child to end", timeout=10)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
