"""How a run takes Ctrl-C and SIGTERM outside Lightning's own handling: at once, once, and on the record."""

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from pytorch_lightning.utilities.exceptions import SIGTERMException


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
            raise SIGTERMException

    previous = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    if previous[0] is signal.default_int_handler:  # not where Ctrl-C is ignored (a background job)
        signal.signal(signal.SIGINT, interrupt)
    if previous[1] is signal.SIG_DFL:  # submitit's own handler stays in place
        signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        # A stopping process ignores further signals: the interpreter's shutdown would swap a Python
        # handler for the default one, and a second Ctrl-C landing then would end it with -SIGINT.
        signal.signal(signal.SIGINT, signal.SIG_IGN if stopping else previous[0])
        signal.signal(signal.SIGTERM, signal.SIG_IGN if stopping else previous[1])
