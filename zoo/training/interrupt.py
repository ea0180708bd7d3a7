"""Ctrl-C (SIGINT) and SIGTERM during training: finish the step, write a checkpoint, then stop.

The handler only records the request; the loop checks it after each step, so the checkpoint holds a
whole step and `--resume` continues bit-identically. A second signal acts at once (the usual
KeyboardInterrupt, or termination): a user is never stuck waiting.
"""
from __future__ import annotations

import contextlib
import signal
import threading


class TrainingInterrupted(KeyboardInterrupt):
    """A run stopped by SIGINT/SIGTERM after writing its checkpoint (`str()` says how to continue)."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.signum = signum

    def __str__(self) -> str:
        return str(self.args[0])


class StopRequest:
    signum: int | None = None

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else ""


@contextlib.contextmanager
def stop_requests(signals=(signal.SIGINT, signal.SIGTERM)):
    """Within the block, the signals set `request.signum` instead of interrupting (main thread only:
    Python delivers signals there; elsewhere nothing changes)."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return
    previous = {s: signal.getsignal(s) for s in signals}

    def restore():
        for s, handler in previous.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)

    def handler(signum, frame):
        request.signum = signum
        restore()  # a second Ctrl-C interrupts at once

    for s in signals:
        signal.signal(s, handler)
    try:
        yield request
    finally:
        restore()
