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


def interrupted(stop: StopRequest, step: int, steps: int, checkpoint, run_dir) -> TrainingInterrupted:
    """The error a run raises once its checkpoint is written: which signal, where, and how to go on."""
    signame = stop.name or "a signal to another process"
    return TrainingInterrupted(
        f"interrupted by {signame} at step {step} of {steps}: checkpoint written to "
        f"{checkpoint}; continue with --resume {run_dir} (zoo.resume({str(run_dir)!r}))",
        stop.signum or 0,
    )


def stop_if_requested(trainer, stop: StopRequest, saved: bool, bar) -> None:
    """After a step: when SIGINT/SIGTERM came (on any rank: they agree through any_flag), write the
    checkpoint unless `saved` already did, and raise TrainingInterrupted."""
    from zoo.training import checkpoint

    stopping = stop.signum is not None
    if not (stopping or trainer.dist.enabled) or not trainer.dist.any_flag(stopping, trainer.device):
        return
    if trainer.dist.is_main and not saved:
        trainer.run.save_checkpoint(*checkpoint.trainer_state(trainer))
    bar.close()
    trainer.dist.barrier()  # the other ranks wait for the checkpoint
    raise interrupted(stop, trainer.step, trainer.recipe.steps, trainer.run.checkpoint_path, trainer.run.path)
