"""A batching front: concurrent small requests merged into one run, for throughput.

A request (a dict of input rows) waits at most `max_delay_ms` for others; the worker thread then runs
up to `max_batch` rows at once and hands each caller its own slice. One run of 32 images costs far
less than 32 runs of one, so under load every caller gets its images sooner; a lone request pays at
most the delay.

Every request is answered or refused, never left waiting: `close()` and `submit()` take one lock, so
a request is either queued before the stop sentinel (and run) or refused; whatever the worker still
holds when it stops is refused. When a merged run fails, each request is run alone, so one bad
request fails by itself.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

import numpy as np

_STOP = None


class GeneratorClosedError(RuntimeError):
    """The generator was closed before this request could run."""


class Batcher:
    def __init__(self, run: Callable[[dict[str, np.ndarray]], np.ndarray], max_batch: int, max_delay_ms: float = 2.0):
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        if max_delay_ms < 0:
            raise ValueError(f"max_delay_ms must be >= 0, got {max_delay_ms}")
        self._run = run
        self.max_batch = int(max_batch)
        self.max_delay = max_delay_ms / 1000.0
        self._queue: queue.Queue = queue.Queue()
        self._closed = False
        self._lock = threading.Lock()  # orders submit's put against close's sentinel
        self.runs = 0  # how many merged runs were made (tests and stats)
        self._thread = threading.Thread(target=self._loop, name="zoo-runtime-batcher", daemon=True)
        self._thread.start()

    def submit(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """Images for these rows, run together with whatever else arrives meanwhile."""
        future: Future = Future()
        with self._lock:
            if self._closed:
                raise GeneratorClosedError("this generator was closed; load the package again to generate")
            self._queue.put((feeds, future))
        return future.result()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_STOP)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)

    def _collect(self, first, carry: list) -> tuple[list, bool]:
        """The batch that starts with `first`, and whether the stop sentinel was seen. A request too
        big to join goes to `carry` (it starts the next batch), never back to the queue, where it
        could land behind the sentinel."""
        batch, rows = [first], len(first[0]["z"])
        deadline = time.perf_counter() + self.max_delay
        while rows < self.max_batch:
            timeout = deadline - time.perf_counter()
            try:
                item = self._queue.get(timeout=timeout) if timeout > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                return batch, True
            if rows + len(item[0]["z"]) > self.max_batch:
                carry.append(item)
                break
            batch.append(item)
            rows += len(item[0]["z"])
        return batch, False

    def _loop(self) -> None:
        carry: list = []
        stopping = False
        try:
            while carry or not stopping:
                first = carry.pop(0) if carry else self._queue.get()
                if first is _STOP:
                    stopping = True
                    continue
                if stopping:
                    batch = [first]
                else:
                    batch, stopping = self._collect(first, carry)
                self._answer(batch)
        finally:  # nothing is left waiting: whatever is still queued (or carried) is refused
            self._refuse(carry)
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not _STOP:
                    self._refuse([item])

    def _answer(self, batch: list) -> None:
        try:
            merged = {name: np.concatenate([feeds[name] for feeds, _ in batch]) for name in batch[0][0]}
            images = self._run(merged)
            self.runs += 1
        except BaseException as e:  # noqa: BLE001 -- the callers get the error, the worker lives on
            if len(batch) == 1:
                batch[0][1].set_exception(e)
                return
            for item in batch:  # one bad request must not fail the others merged with it
                self._answer([item])
            return
        start = 0
        for feeds, future in batch:
            size = len(feeds["z"])
            future.set_result(images[start : start + size])
            start += size

    @staticmethod
    def _refuse(items: list) -> None:
        for _, future in items:
            if not future.done():
                future.set_exception(
                    GeneratorClosedError(
                        "this generator was closed before the request ran; load the package again to generate"
                    )
                )
