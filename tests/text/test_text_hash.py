"""The built-in `hash` encoder: one numpy implementation shared by the zoo and the runtime."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from zoo.text import HashTextEncoder, get_text_encoder
from zoo_runtime.text import TextEncoderError, load_text_encoder
from zoo_runtime.text.hash_encoder import hash_encode, words

PROMPTS = [
    "a small red circle on a blue background",
    "A SMALL Red circle, on a blue background!",
    "",
    "a large blue circle on a red background",
    "ein kleiner roter Kreis — ça marche? 赤い丸",
    "red " * 5000,
]


def test_shape_dtype_norm_and_the_empty_prompt():
    emb = get_text_encoder("hash").encode(PROMPTS)
    assert emb.shape == (len(PROMPTS), 256) and emb.dtype == np.float32
    norms = np.linalg.norm(emb, axis=1)
    assert np.allclose(norms[[0, 1, 3, 4, 5]], 1, atol=1e-6)
    assert not emb[2].any(), "the empty prompt is documented to map to the zero vector"
    assert not hash_encode(["?!  ..."])[0].any(), "no word characters: zeros too"
    assert get_text_encoder("hash").encode([]).shape == (0, 256)


def test_normalisation_case_punctuation_unicode():
    emb = get_text_encoder("hash").encode(PROMPTS)
    assert np.array_equal(emb[0], emb[1]), "case and punctuation do not change the embedding"
    assert emb[0] @ emb[3] < 0.9, "swapping the colours changes the embedding (bigrams)"
    assert words("Ｒｅｄ ÇA") == ["red", "ça"], "NFKC + casefold"
    assert words("赤い丸") == ["赤い丸"]


def test_stable_golden_value_across_processes_and_hash_seeds():
    """blake2b, not Python's salted hash(): the same prompt gives the same vector everywhere."""
    e = hash_encode(["a red circle"])[0]
    idx = np.flatnonzero(e)
    assert idx.tolist() == [53, 148, 155, 229, 254]  # if this changes, bump hash_encoder.VERSION
    assert np.sign(e[idx]).astype(int).tolist() == [-1, 1, -1, -1, 1]
    code = "import json; from zoo_runtime.text.hash_encoder import hash_encode; print(json.dumps(hash_encode(['a red circle', 'x y'])[:, :].tolist()))"
    outs = []
    for seed in ("1", "2"):
        r = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
            timeout=60,
        )
        assert r.returncode == 0, r.stderr
        outs.append(np.array(json.loads(r.stdout), dtype=np.float32))
    assert np.array_equal(outs[0], outs[1]) and np.array_equal(outs[0][0], e)


def test_runtime_loader_gives_identical_embeddings(tmp_path):
    enc = get_text_encoder("hash")
    entry = enc.export(tmp_path)
    assert entry["files"] == [] and list(tmp_path.iterdir()) == [], "hash writes no files"
    json.dumps(entry)  # the manifest entry is plain JSON
    runtime = load_text_encoder(tmp_path, entry)
    assert np.array_equal(runtime(PROMPTS), enc.encode(PROMPTS))
    assert runtime("one prompt").shape == (1, 256)


def test_bad_input_errors():
    enc = get_text_encoder("hash")
    with pytest.raises(TypeError, match=r"pass \[text\]"):
        enc.encode("a bare string")
    with pytest.raises(TypeError, match="prompt 1 is int"):
        enc.encode(["ok", 3])
    with pytest.raises(ValueError, match="dim must be positive"):
        hash_encode(["x"], 0)
    with pytest.raises(TextEncoderError, match="version 99"):
        load_text_encoder(".", {**enc.export("."), "version": 99})
    with pytest.raises(TextEncoderError, match="unknown text encoder kind 'word2vec'"):
        load_text_encoder(".", {"name": "w2v", "kind": "word2vec", "dim": 3})
    with pytest.raises(TextEncoderError, match="lacks 'kind'"):
        load_text_encoder(".", {"name": "hash"})


def test_other_dimensions():
    assert HashTextEncoder(64).encode(["a b"]).shape == (1, 64)
