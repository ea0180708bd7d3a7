"""Token-level text models through export and zoo_runtime: the graph takes tokens and mask, the
runtime computes them from prompts (generate(prompts=...) unchanged), pixels match zoo's."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

import zoo
from zoo.images import to_uint8
from zoo.text.condition import text_condition

PROMPTS = ["a small red circle on a blue background", "a small blue circle on a red background", ""]


def token_model(encoder: str = "hash", dim: int = 256):
    torch.manual_seed(0)
    model = zoo.create_model(
        "dcgan32", width=8, conditioning="text", text_dim=dim, text_encoder=encoder, film=True,
        text_tokens=16, text_token_dim=dim,
    )  # fmt: skip
    for attention in model.generator.token_attention:  # as if trained: the tokens change the images
        torch.nn.init.normal_(attention.out.weight, std=0.5)
    return model


def export(model, out):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return zoo.export(model, out, progress=False)


def test_hash_token_model_runtime_matches_zoo(tmp_path):
    import zoo_runtime

    model = token_model()
    pkg = export(model, tmp_path / "pkg")
    manifest = json.loads((pkg / "manifest.json").read_text())
    assert manifest["conditioning"]["text_tokens"] == 16 and manifest["conditioning"]["text_token_dim"] == 256
    inputs = {i["name"]: (i["dtype"], i["shape"]) for i in manifest["inputs"]}
    assert inputs["text_tokens"] == ("float32", ["batch", 16, 256]) and inputs["text_mask"] == ("bool", ["batch", 16])
    gen = zoo_runtime.load(pkg, providers="cpu")
    want = to_uint8(model.sample(3, seed=5, prompts=PROMPTS))
    assert np.array_equal(gen.generate(prompts=PROMPTS, seed=5), want)
    # the swapped pair gives different images (same pooled-ish vector, other tokens)
    assert not np.array_equal(want[0], want[1])
    # embeddings= takes the packed row, as model.sample does
    rows = text_condition(model.config, PROMPTS)
    assert np.array_equal(gen.generate(embeddings=rows, seed=5), want)
    with pytest.raises(ValueError, match=r"embeddings must be float32 \[3, 4368\] \(the packed"):
        gen.generate(embeddings=rows[:, :256], seed=5)


def test_minilm_token_model_runtime_matches_zoo(tmp_path):
    pytest.importorskip("zoo_minilm", reason="plugins/zoo-minilm is not installed")
    import zoo_runtime

    model = token_model("minilm", 384)
    pkg = export(model, tmp_path / "pkg")
    entry = json.loads((pkg / "manifest.json").read_text())["text_encoder"]
    assert entry["token_output"] == "token_embeddings" and entry["token_dim"] == 384
    assert entry["parity"]["min_cosine"] >= 0.9999  # pooled and every real token
    gen = zoo_runtime.load(pkg, providers="cpu")
    tokens, mask = gen.text_encoder().encode_tokens(PROMPTS)
    ref_tokens, ref_mask = zoo.text.get_text_encoder("minilm").encode_tokens(PROMPTS)
    assert np.array_equal(mask, ref_mask) and np.abs(tokens - ref_tokens).max() < 1e-3
    got = gen.generate(prompts=PROMPTS, seed=5)
    assert np.abs(got.astype(np.int16) - to_uint8(model.sample(3, seed=5, prompts=PROMPTS))).max() <= 1


def test_an_encoder_graph_without_tokens_says_so(tmp_path):
    """A package exported before token outputs: encode_tokens fails in one line that says what to do."""
    pytest.importorskip("zoo_minilm", reason="plugins/zoo-minilm is not installed")
    from zoo_runtime.text import TextEncoderError, load_text_encoder

    entry = zoo.text.get_text_encoder("minilm").export(tmp_path)
    del entry["token_output"]
    encoder = load_text_encoder(tmp_path, entry)
    assert encoder(["a red circle"]).shape == (1, 384)  # pooled still works
    with pytest.raises(TextEncoderError, match="exported without token outputs; re-export"):
        encoder.encode_tokens(["a red circle"])
