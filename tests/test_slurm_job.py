"""The signal SLURM sends before a job's time limit, taken by submitit's own handler, in this process.

submitit's handler raises where the signal lands; these tests land it where that raise used to be lost
(inside a logging call, which swallows errors) and check the run still stops at its next step, saying why.
The whole path on a real cluster: the time-limit tests in test_slurm.py.
"""

import io
import logging
import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytorch_lightning.utilities.exceptions import SIGTERMException
from submitit.core.job_environment import SignalHandler
from submitit.core.utils import DelayedSubmission, JobPaths
from submitit.local.local import LocalJobEnvironment

from mlplab.slurm_job import act_on_slurm_signal, noting_slurm_signals, slurm_signals

TIME_LIMIT = re.escape("the SLURM job reached its time limit (hydra.launcher.timeout_min) with no requeue left")


def _train() -> None:
    """What the job runs; nothing submitit could checkpoint, so a time limit cannot requeue it."""


@pytest.fixture
def submitit_job_out_of_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process as a submitit job past its time limit with no requeue left, submitit's handler on SIGUSR2."""
    for key, value in {"job_id": "7", "num_tasks": "1", "num_nodes": "1", "node": "0", "global_rank": "0"}.items():
        monkeypatch.setenv(LocalJobEnvironment._env[key], value)
    monkeypatch.setenv(LocalJobEnvironment._env["local_rank"], "0")
    delayed = DelayedSubmission(_train)
    delayed.set_timeout(timeout_min=1, max_num_timeout=0)  # a 1-minute job is always past 80% of its limit
    handler = SignalHandler(LocalJobEnvironment(), JobPaths(tmp_path, job_id="7"), delayed)
    previous = signal.signal(signal.SIGUSR2, handler.checkpoint_and_try_requeue)  # as submitit installs it
    yield
    signal.signal(signal.SIGUSR2, previous)


class SignalWhileWriting(io.StringIO):
    """A log's stream during whose write the signal arrives: logging's StreamHandler swallows errors raised there."""

    landed = False

    def write(self, text: str) -> int:
        os.kill(os.getpid(), signal.SIGUSR2)
        self.landed = True  # Python runs a signal's handler between two bytecodes: this one, here
        return super().write(text)


def test_the_signal_landing_inside_a_logging_call_stops_the_run_at_its_next_step_saying_why(
    submitit_job_out_of_time: None, capsys: pytest.CaptureFixture[str]
) -> None:
    log = logging.getLogger("a job's log")
    log.addHandler(handler := logging.StreamHandler(stream := SignalWhileWriting()))
    try:
        with pytest.raises(SIGTERMException, match=TIME_LIMIT), slurm_signals():
            assert noting_slurm_signals(), "the SlurmSignal callback is added where submitit handles the signal"
            log.warning("epoch 1, loss 0.58")
            assert stream.landed and "epoch 1" in stream.getvalue()
            act_on_slurm_signal()  # the next step (SlurmSignal.on_train_batch_end)
    finally:
        log.removeHandler(handler)
    assert "Logging error" not in capsys.readouterr().err
    assert signal.getsignal(signal.SIGUSR2).__self__.__class__ is SignalHandler, "submitit's handler is back"


def test_a_sigterm_before_the_next_step_after_the_signal_says_time_limit_not_sigterm(
    submitit_job_out_of_time: None,
) -> None:
    with pytest.raises(SIGTERMException, match=TIME_LIMIT), slurm_signals():
        os.kill(os.getpid(), signal.SIGUSR2)
        raise SIGTERMException  # SLURM's SIGTERM at the limit, as Lightning raises it


def test_outside_a_submitit_job_signals_are_left_as_they_are() -> None:
    before = signal.getsignal(signal.SIGUSR2)
    with slurm_signals():
        assert not noting_slurm_signals()
        assert signal.getsignal(signal.SIGUSR2) is before
