"""Generating: the same seed gives the same images as `zoo sample`, inputs of every kind, chunking."""

from __future__ import annotations

import numpy as np

import zoo_runtime
from zoo.images import to_uint8
from zoo_runtime.latents import make_labels, make_latents


def _close(a, b, levels=1):
    return a.shape == b.shape and np.abs(a.astype(np.int16) - b.astype(np.int16)).max() <= levels


def test_seed_gives_zoo_sample_images_and_is_deterministic(uncond):
    path, model = uncond
    gen = zoo_runtime.load(path, providers="cpu")
    a = gen.generate(8, seed=123)
    assert a.dtype == np.uint8 and a.shape == (8, 32, 32, 3)
    assert np.array_equal(a, gen.generate(8, seed=123))
    assert not np.array_equal(a, gen.generate(8, seed=124))
    assert _close(a, to_uint8(model.sample(8, seed=123)))
    assert np.array_equal(gen.generate(seed=123), a[:1])  # n defaults to 1; the first latent of the stream
    z = make_latents(8, model.latent_dim, 123)
    assert np.array_equal(gen.generate(z=z), a)  # n taken from z


def test_default_labels_match_the_zoo(classcond):
    path, model = classcond
    gen = zoo_runtime.load(path, providers="cpu")
    got = gen.generate(10, seed=7)  # labels drawn by make_labels(n, classes, seed), like GAN.sample
    assert _close(got, to_uint8(model.sample(10, seed=7)))
    assert np.array_equal(got, gen.generate(10, seed=7, labels=make_labels(10, 10, 7)))
    assert _close(gen.generate(4, seed=1, labels=[0, 3, 6, 9]), to_uint8(model.sample(4, seed=1, labels=[0, 3, 6, 9])))
    assert np.array_equal(gen.generate(3, seed=2, labels=5), gen.generate(3, seed=2, labels=[5, 5, 5]))


def test_text_model_takes_embeddings_and_prompts(textcond):
    path, model = textcond
    gen = zoo_runtime.load(path, providers="cpu")
    emb = np.random.default_rng(0).standard_normal((3, 256)).astype(np.float32)
    assert _close(gen.generate(embeddings=emb, seed=5), to_uint8(model.sample(3, seed=5, embeddings=emb)))
    if gen.manifest.get("text_encoder"):
        prompts = ["a red circle", "a blue square", "a small green triangle"]
        got = gen.generate(seed=5, prompts=prompts)  # n from the prompts
        assert _close(got, to_uint8(model.sample(3, seed=5, prompts=prompts)))


def test_truncation_input(package):
    path, model = package("stylegan2_32")
    gen = zoo_runtime.load(path, providers="cpu")
    assert gen.has_truncation
    for psi in (1.0, 0.5, 0.0):
        assert _close(gen.generate(3, seed=9, truncation=psi), to_uint8(model.sample(3, seed=9, truncation=psi)))
    assert not np.array_equal(gen.generate(3, seed=9, truncation=0.0), gen.generate(3, seed=9, truncation=1.0))


def test_large_n_runs_in_chunks_with_the_same_images(uncond):
    path, _ = uncond
    whole = zoo_runtime.load(path, providers="cpu", chunk_size=4096).generate(300, seed=3)
    chunked = zoo_runtime.load(path, providers="cpu", chunk_size=7)
    assert np.array_equal(chunked.generate(300, seed=3), whole)  # latents drawn per chunk from one stream


def test_huge_n_is_generated_in_chunks_not_refused(uncond):
    """Memory is the uint8 output plus one chunk: no run ever sees more than chunk_size rows."""
    path, _ = uncond
    gen = zoo_runtime.load(path, providers="cpu", chunk_size=512)
    rows = []
    run = gen.runner.run
    gen.runner.run = lambda feeds: rows.append(len(feeds["z"])) or run(feeds)
    images = gen.generate(5000, seed=0)
    assert images.shape == (5000, 32, 32, 3) and max(rows) == 512 and sum(rows) == 5000
    assert np.array_equal(images[-5:], gen.generate(z=make_latents(5000, 128, 0)[-5:]))


def test_info_and_warmup(classcond):
    path, _ = classcond
    gen = zoo_runtime.load(path, providers="cpu", threads=1).warmup()
    info = gen.info
    assert info["provider"] == "CPUExecutionProvider" and info["threads"] == 1
    assert info["image"] == {"height": 32, "width": 32, "channels": 3, "layout": "NHWC", "dtype": "uint8"}
    assert info["conditioning"]["num_classes"] == 10 and info["parity"]["passed"]
    assert "dcgan32" in repr(gen)


def test_int8_package_runs_close_to_its_model(package):
    path, model = package("dcgan32", precision="int8")
    got = zoo_runtime.load(path, providers="cpu").generate(4, seed=0)
    expected = to_uint8(model.sample(4, seed=0))
    assert got.shape == expected.shape and np.abs(got.astype(np.int16) - expected).mean() < 8
