"""A batching front: concurrent small requests merged into one run, for throughput.

A request (a dict of input rows) waits at most `max_delay_ms` for others; the worker thread then runs
up to `max_batch` rows at once and hands each caller its own slice. One run of 32 images costs far
less than 32 runs of one, so under load every caller gets its images sooner; a lone request pays at
most the delay.
"""
from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future
from typing import Callable

import numpy as np


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
        self.runs = 0  # how many merged runs were made (tests and stats)
        self._thread = threading.Thread(target=self._loop, name="zoo-runtime-batcher", daemon=True)
        self._thread.start()

    def submit(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """Images for these rows, run together with whatever else arrives meanwhile."""
        if self._closed:
            raise RuntimeError("this generator was closed")
        future: Future = Future()
        self._queue.put((feeds, future))
        return future.result()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join(timeout=5)

    def _collect(self, first) -> list:
        batch, rows = [first], len(first[0]["z"])
        deadline = time.perf_counter() + self.max_delay
        while rows < self.max_batch:
            timeout = deadline - time.perf_counter()
            try:
                item = self._queue.get(timeout=max(timeout, 0)) if timeout > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:  # closing: finish this batch, then stop
                self._queue.put(None)
                break
            if rows + len(item[0]["z"]) > self.max_batch:
                self._queue.put(item)  # too big to join: it starts the next batch (order may change)
                break
            batch.append(item)
            rows += len(item[0]["z"])
        return batch

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = self._collect(first)
            sizes = [len(feeds["z"]) for feeds, _ in batch]
            try:
                merged = {name: np.concatenate([feeds[name] for feeds, _ in batch]) for name in batch[0][0]}
                images = self._run(merged)
                self.runs += 1
            except BaseException as e:  # noqa: BLE001 -- the callers get the error, the worker lives on
                for _, future in batch:
                    future.set_exception(e)
                continue
            start = 0
            for (_, future), size in zip(batch, sizes):
                future.set_result(images[start:start + size])
                start += size
