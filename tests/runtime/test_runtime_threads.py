"""One Generator shared by threads; the batching front merges concurrent requests."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

import zoo_runtime

THREADS, REQUESTS = 8, 200


def _requests():
    """200 small requests of mixed sizes, labels and seeds."""
    rng = np.random.default_rng(0)
    return [
        dict(n=int(rng.integers(1, 4)), seed=int(s), labels=int(rng.integers(0, 10)))
        for s in rng.integers(0, 10_000, REQUESTS)
    ]


def _concurrent(gen, requests):
    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(lambda kw: gen.generate(**kw), requests))


def test_threads_get_the_same_images_as_sequential_calls(classcond):
    path, _ = classcond
    requests = _requests()
    with zoo_runtime.load(path, providers="cpu", threads=1) as gen:
        sequential = [gen.generate(**kw) for kw in requests]
        concurrent = _concurrent(gen, requests)
    assert all(np.array_equal(a, b) for a, b in zip(sequential, concurrent))


def test_batching_front_merges_requests_and_keeps_them_apart(classcond):
    path, _ = classcond
    requests = _requests()
    with zoo_runtime.load(path, providers="cpu", threads=1) as plain:
        sequential = [plain.generate(**kw) for kw in requests]
    with zoo_runtime.load(path, providers="cpu", threads=1, max_batch=32, max_delay_ms=5) as gen:
        concurrent = _concurrent(gen, requests)
        runs = gen._batcher.runs
        assert gen.info["batching"] == {"max_batch": 32, "max_delay_ms": 5.0}
        big = gen.generate(40, seed=1)  # larger than max_batch: runs directly
    assert all(np.array_equal(a, b) for a, b in zip(sequential, concurrent))
    assert runs < REQUESTS  # requests were merged into fewer runs
    assert np.array_equal(big, plain.generate(40, seed=1))


def test_batching_front_passes_errors_to_the_caller():
    from zoo_runtime.batching import Batcher

    def run(feeds):
        if (feeds["z"] < 0).any():
            raise RuntimeError("boom")
        return feeds["z"] * 2

    batcher = Batcher(run, max_batch=8, max_delay_ms=1)
    try:
        assert np.array_equal(batcher.submit({"z": np.ones((2, 3))}), np.full((2, 3), 2.0))
        try:
            batcher.submit({"z": -np.ones((1, 3))})
            raise AssertionError("expected an error")
        except RuntimeError as e:
            assert str(e) == "boom"
        assert np.array_equal(batcher.submit({"z": np.ones((1, 3))}), np.full((1, 3), 2.0))  # still serving
    finally:
        batcher.close()
