"""Text-to-image end to end: prompts through GAN.sample, training with --condition text:ENCODER,
export of the encoder into the package, and the runtime giving the same pixels for the same prompt."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

import zoo
from zoo.images import to_uint8
from zoo.testing import tiny_text_run

PROMPTS = ["a small red circle on a blue background", "a large green square on a white background", ""]


def tiny_text_model(encoder: str = "hash", dim: int = 256):
    torch.manual_seed(0)
    return zoo.create_model("dcgan32", width=8, conditioning="text", text_dim=dim, text_encoder=encoder)


def test_sample_with_prompts():
    model = tiny_text_model()
    a = model.sample(3, seed=1, prompts=PROMPTS)
    assert a.shape == (3, 3, 32, 32)
    assert torch.equal(a, model.sample(3, seed=1, prompts=PROMPTS)), "same prompts and seed, same images"
    one = model.sample(2, seed=1, prompts=PROMPTS[0])  # one prompt is used for every image
    assert torch.allclose(one[0], a[0], atol=1e-5)  # batch size may change float summation order
    emb = zoo.text.get_text_encoder("hash").encode(PROMPTS)
    assert torch.equal(a, model.sample(3, seed=1, embeddings=emb)), "prompts == their embeddings"
    assert not emb[2].any(), "the empty prompt is the zero embedding (documented)"
    with pytest.raises(ValueError, match="got 3 prompts for 2 samples"):
        model.sample(2, seed=1, prompts=PROMPTS)
    with pytest.raises(ValueError, match="unconditional"):
        zoo.create_model("dcgan32", width=8).sample(2, prompts="a red circle")
    with pytest.raises(ValueError, match="text-conditional: pass prompts"):
        model.sample(2, seed=1)


def test_train_a_text_model_with_condition_text_encoder(tmp_path):
    """`--condition text:hash` on captioned data: GAN-CLS trains and the result samples from prompts."""
    from zoo.data.shapes import load_shapes

    data = load_shapes(32, 3, n=32, seed=0, progress=False)
    model = tiny_text_run(data, tmp_path / "run", checkpoint_every=100, log_every=1)
    assert model.config["text_encoder"] == "hash" and model.config["text_dim"] == 256
    loaded = zoo.load(tmp_path / "run")
    assert torch.equal(loaded.sample(2, seed=0, prompts=PROMPTS[0]), model.sample(2, seed=0, prompts=PROMPTS[0]))
    with pytest.raises(KeyError, match="unknown text encoder .nope."):
        zoo.train("dcgan32", data, tmp_path / "bad", config=dict(width=8), condition="text:nope", steps=1)


def _export(model, out):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return zoo.export(model, out, progress=False)


def test_hash_model_package_and_runtime_match_zoo_sample(tmp_path):
    import zoo_runtime

    model = tiny_text_model()
    pkg = _export(model, tmp_path / "pkg")
    manifest = json.loads((pkg / "manifest.json").read_text())
    entry = manifest["text_encoder"]
    assert entry["kind"] == "hash" and entry["dim"] == 256 and entry["files"] == []
    gen = zoo_runtime.load(pkg, providers="cpu")
    got = gen.generate(prompts=PROMPTS, seed=5)  # n = len(prompts)
    assert np.array_equal(got, to_uint8(model.sample(3, seed=5, prompts=PROMPTS))), "same prompt + seed, same pixels"
    assert np.array_equal(gen.text_encoder()(PROMPTS), zoo.text.get_text_encoder("hash").encode(PROMPTS))
    with pytest.raises(ValueError, match="got 3 prompts for n=2"):
        gen.generate(2, prompts=PROMPTS, seed=0)


def test_minilm_model_package_carries_onnx_and_tokenizer(tmp_path):
    pytest.importorskip("zoo_minilm", reason="plugins/zoo-minilm is not installed")
    import zoo_runtime

    model = tiny_text_model("minilm", 384)
    pkg = _export(model, tmp_path / "pkg")
    manifest = json.loads((pkg / "manifest.json").read_text())
    entry = manifest["text_encoder"]
    assert entry["name"] == "minilm" and entry["kind"] == "onnx-transformer"
    for f in entry["files"]:
        assert f in manifest["files"], "the encoder's files are hashed in the manifest like the graph"
    gen = zoo_runtime.load(pkg, providers="cpu")
    got = gen.generate(prompts=PROMPTS, seed=5)
    expected = to_uint8(model.sample(3, seed=5, prompts=PROMPTS))
    assert np.abs(got.astype(np.int16) - expected).max() <= 1  # embeddings agree to ~1e-7, pixels round alike
