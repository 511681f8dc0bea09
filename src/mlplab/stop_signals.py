"""How a run takes Ctrl-C and SIGTERM outside Lightning's own handling: at once, once, and on the record."""

import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType


class StoppedBeforeTraining(BaseException):  # noqa: N818 - a signal, as KeyboardInterrupt is
    """Ctrl-C or SIGTERM between a sweep's jobs, before a job took over the signals."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def before_training(sweep: bool) -> Callable[[int, FrameType | None], None]:
    """src/train.py's Ctrl-C and SIGTERM handler until a job's stop_signals takes over (checks, imports, Hydra).

    A single run has nothing to save yet: it says so and ends at once, not by an exception that the
    library code being imported might catch, nor through torch's exit handlers, which a cut-short
    import leaves printing their state. A sweep raises StoppedBeforeTraining, so its summary is written.
    """

    def stop(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C while saying so is ignored
        if sweep:
            raise StoppedBeforeTraining(signum)
        name = signal.Signals(signum).name
        print(f"interrupted ({name}) before training started: nothing was training, so there is nothing to resume",
              file=sys.stderr, flush=True)  # fmt: skip
        sys.stdout.flush()
        os._exit(128 + signum)

    stop.before_training = True  # type: ignore[attr-defined] - how stop_signals knows it may take over
    return stop


def _replaceable(handler: object, default: object) -> bool:
    return handler is default or getattr(handler, "before_training", False)


@contextmanager
def stop_signals() -> Iterator[None]:
    """Inside the block, the first Ctrl-C stops the run and later ones are ignored; SIGTERM stops it too.

    A second Ctrl-C a moment after the first would otherwise land in the middle of the shutdown that
    records the first (Lightning ignores SIGINT only once its handler has begun): three chained
    tracebacks. SIGTERM's default ends the process on the spot, so one that arrives while the data loads,
    before Lightning installs its handler, would leave status.json saying `running`. While Lightning (or
    SigtermUnderDDP, or submitit) handles SIGTERM, its handler decides; this one steps aside.
    """
    stopping = False  # Lightning's teardown puts these handlers back mid-shutdown: they must know

    def interrupt(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # before anything else runs: the next Ctrl-C finds it set
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    def terminate(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        first, stopping = not stopping, True
        if first and signal.getsignal(signal.SIGTERM) is terminate:  # Lightning's handler calls this one too
            from pytorch_lightning.utilities.exceptions import SIGTERMException

            raise SIGTERMException

    previous = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    if _replaceable(previous[0], signal.default_int_handler):  # not where Ctrl-C is ignored (a background job)
        signal.signal(signal.SIGINT, interrupt)
    if _replaceable(previous[1], signal.SIG_DFL):  # submitit's own handler stays in place
        signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        # A stopping process ignores further signals: the interpreter's shutdown would swap a Python
        # handler for the default one, and a second Ctrl-C landing then would end it with -SIGINT.
        signal.signal(signal.SIGINT, signal.SIG_IGN if stopping else previous[0])
        signal.signal(signal.SIGTERM, signal.SIG_IGN if stopping else previous[1])


@contextmanager
def signals_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait until the block has ended, then act as if they arrived then.

    For a write that must not stop halfway: a KeyboardInterrupt raised inside an SQLite transaction (a
    trial's report to its study) leaves the transaction open and the database locked, and the search's
    own `tell` of that trial then waits a minute for the lock and fails, leaving the trial RUNNING.
    Python runs signal handlers in the main thread, where this must be used.
    """
    noted: list[int] = []
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    for signum in previous:
        signal.signal(signum, lambda signum, frame: noted.append(signum))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in dict.fromkeys(noted):  # each once, in the order they came
            signal.raise_signal(signum)
