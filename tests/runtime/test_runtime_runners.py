"""The IO-binding and fixed-batch (CUDA graph) runners, run with CPU device buffers: the same code
the GPU uses, minus the device allocation and the graph capture (GPU-only, not exercisable here)."""

from __future__ import annotations

import numpy as np

import zoo_runtime
from zoo_runtime.latents import make_labels, make_latents
from zoo_runtime.runners import BoundRunner, GraphRunner, PlainRunner, pad_rows


def _feeds(n, seed):
    return {"z": make_latents(n, 128, seed), "labels": make_labels(n, 10, seed)}


def test_bound_and_graph_runners_match_plain(classcond):
    gen = zoo_runtime.load(classcond[0], providers="cpu", threads=1)
    plain = PlainRunner(gen.session, gen.image_shape)
    bound = BoundRunner(gen.session, gen.image_shape, device="cpu", keep=2)
    graph = GraphRunner(gen.session, gen.image_shape, batch=4, input_specs=gen._input_specs(), device="cpu")
    for n, seed in ((1, 0), (4, 1), (3, 2), (9, 3), (1, 4)):
        feeds = _feeds(n, seed)
        expected = plain.run(feeds)
        got_bound = bound.run(feeds)
        assert np.array_equal(got_bound, expected)
        assert np.array_equal(graph.run(feeds), expected)  # padded to 4, chunked above 4
    first = bound.run(_feeds(2, 5))
    bound.run(_feeds(2, 6))
    assert np.array_equal(first, plain.run(_feeds(2, 5)))  # results are copies, not the reused buffer


def test_pad_rows_repeats_a_valid_row():
    labels = np.array([3, 1], np.int64)
    assert pad_rows(labels, 4).tolist() == [3, 1, 3, 3]
    assert pad_rows(labels, 2) is labels
