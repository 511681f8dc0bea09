"""Processes in tests: every call has a deadline, every wait notices a process that died.

A hung script must fail its test with what it printed, not hang the suite: `run` is `subprocess.run`
with a timeout, `Process` reads a started script's lines in the background so that waiting for a line
has a deadline, and `wait_until` polls a condition until a deadline or its process's end.
"""

import importlib
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 300  # seconds a script may take in a test: ten times what the slowest takes on a quiet machine
STARTED: list["Process"] = []  # conftest kills what a test left running


def run(command: list[str], timeout: float = TIMEOUT, **kwargs) -> subprocess.CompletedProcess[str]:
    """subprocess.run with captured text output and a deadline (the process is killed when it passes)."""
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    return subprocess.run(command, timeout=timeout, **kwargs)


def script(name: str, *args: object, **kwargs) -> subprocess.CompletedProcess[str]:
    """Run src/<name> with this interpreter, as a user would."""
    return run([sys.executable, str(ROOT / "src" / name), *map(str, args)], **kwargs)


class Process(subprocess.Popen):
    """A started process whose output (stdout and stderr, as text) is read line by line in the background."""

    def __init__(self, command: list[str], env: dict[str, str] | None = None, **kwargs) -> None:
        env = os.environ | {"PYTHONUNBUFFERED": "1"} | (env or {})
        super().__init__(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, **kwargs)
        STARTED.append(self)
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def _take(self, timeout: float) -> str | None:
        line = self._queue.get(timeout=max(timeout, 0))
        if line is not None:
            self.lines.append(line)
        return line

    def output(self) -> str:
        """What it has printed so far."""
        while True:
            try:
                if self._take(0) is None:
                    break
            except queue.Empty:
                break
        return "".join(self.lines)

    def wait_for_line(self, start: str, timeout: float = 120) -> list[str]:
        """Until it prints a line starting with `start`; fails the test if it ends or the deadline passes first."""
        code = self.wait_for_exit_or_line(start, timeout)
        if code is not None:
            raise AssertionError(f"it ended (exit {code}) before printing {start!r}:\n{self.output()[-3000:]}")
        return self.lines

    def wait_for_exit_or_line(self, start: str, timeout: float = 120) -> int | None:
        """Until it ends (its exit status) or prints a line starting with `start` (None), whichever comes first."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._take(deadline - time.monotonic())
            except queue.Empty:
                raise AssertionError(
                    f"no line starting {start!r} within {timeout} s:\n{self.output()[-3000:]}"
                ) from None
            if line is None:
                return self.wait()
            if line.startswith(start):
                return None

    def finish(self, timeout: float = 120) -> tuple[int, str]:
        """Its exit status and everything it printed, once it ends (killed if it outlives the deadline)."""
        try:
            code = self.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"still running after {timeout} s:\n{self.output()[-3000:]}") from None
        self._reader.join(timeout=10)
        return code, self.output()


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 120, process: Process | None = None) -> None:
    """Poll `condition` until it holds; fail naming `what` at the deadline or when `process` has ended."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"it ended (exit {process.returncode}) before {what}:\n{process.output()[-3000:]}")
        if time.monotonic() > deadline:
            tail = process.output()[-3000:] if process is not None else ""
            raise AssertionError(f"no {what} within {timeout} s\n{tail}")
        time.sleep(0.05)


@pytest.fixture(autouse=True)
def no_process_outlives_its_test() -> Iterator[None]:
    """Kill every Process a test started and left running: a failed or timed-out test's."""
    yield
    while STARTED:
        process = STARTED.pop()
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


def command_line_answer(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """What src/train.py's command-line check answers to `args`, in this process: exit status, stdout, stderr.

    Hydra's entry point must not be reached: these are the command lines refused before any work.
    """
    from mlplab.cli import run_command_line

    saved = sys.argv
    sys.argv = ["src/train.py", *args]
    try:
        with pytest.raises(SystemExit) as stop:
            run_command_line(lambda: pytest.fail(f"the command line {args} was accepted"))
    finally:
        sys.argv = saved
    captured = capsys.readouterr()
    return stop.value.code, captured.out, captured.err


def main_of(name: str, *args: object, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Call src/<name>'s main() in this process with these arguments: exit status, stdout, stderr.

    The same function the script runs, without the seconds of a new interpreter importing torch.
    """
    module = importlib.import_module(name.removesuffix(".py"))
    saved = sys.argv
    sys.argv = [name, *map(str, args)]
    try:
        module.main()
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    finally:
        sys.argv = saved
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def without_flock(error: int) -> Callable[[], None]:
    """A preexec_fn: the child's flock() system calls fail with `error`, as on a filesystem without locks.

    A seccomp filter (libseccomp, through ctypes) makes the kernel answer flock as Lustre mounted `noflock`
    (ENOSYS) or NFS without lockd (ENOLCK) do; it holds for the process and its children, across exec.
    """

    def install() -> None:
        import ctypes

        seccomp = ctypes.CDLL("libseccomp.so.2")
        seccomp.seccomp_init.restype = ctypes.c_void_p
        context = seccomp.seccomp_init(0x7FFF0000)  # SCMP_ACT_ALLOW: everything else as usual
        flock = seccomp.seccomp_syscall_resolve_name(b"flock")
        answer_with_error = 0x00050000 | error  # SCMP_ACT_ERRNO(error)
        if seccomp.seccomp_rule_add(ctypes.c_void_p(context), answer_with_error, flock, 0) != 0:
            raise OSError("seccomp_rule_add failed")
        if seccomp.seccomp_load(ctypes.c_void_p(context)) != 0:
            raise OSError("seccomp_load failed")

    return install
