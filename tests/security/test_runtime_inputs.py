"""Hostile generation inputs (issue 13, items 6 and 8): NaN or huge embeddings are refused like NaN z;
prompts that are not valid Unicode (lone surrogates from non-UTF-8 bytes) or are bytes fail in one
line, in the runtime's encoders and in the MiniLM plugin."""

from __future__ import annotations

import json

import numpy as np
import pytest

import zoo_runtime


@pytest.mark.parametrize(
    "value,message",
    [(np.nan, "NaN or inf"), (np.inf, "NaN or inf"), (1e30, "must lie within"), (-5e3, "must lie within")],
)
def test_nan_or_huge_embeddings_are_refused(textcond, value, message):
    gen = zoo_runtime.load(textcond, providers="cpu")
    emb = np.zeros((2, 256), np.float32)
    emb[1, 7] = value
    with pytest.raises(ValueError, match=message):
        gen.generate(2, seed=0, embeddings=emb)
    emb[1, 7] = 0.5  # an ordinary embedding still works
    assert gen.generate(2, seed=0, embeddings=emb).shape == (2, 32, 32, 3)


SURROGATE = b"a red \xff circle".decode("utf-8", "surrogateescape")  # what a non-UTF-8 argv or file gives


def test_runtime_prompts_must_be_valid_unicode(textcond):
    gen = zoo_runtime.load(textcond, providers="cpu")
    with pytest.raises(ValueError, match=r"prompt 0 is not valid Unicode text: '\\udcff' at character 6"):
        gen.generate(1, prompts=SURROGATE)
    with pytest.raises(ValueError, match="prompts must be a string or a list of strings"):
        gen.generate(1, prompts=[b"a red circle"])
    from zoo_runtime.text import hash_encode

    with pytest.raises(ValueError, match="prompt 1 is not valid Unicode"):
        hash_encode(["fine", SURROGATE])


@pytest.fixture(scope="module")
def onnx_transformer_package(tmp_path_factory):
    """A real tokenizer.json (the MiniLM one) and a small real ONNX graph with the encoder's interface
    (input_ids, attention_mask -> embeddings [batch, 4]): the runtime's onnx-transformer path, no torch."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    from zoo_minilm import TOKENIZER_FILE, model_dir

    pkg = tmp_path_factory.mktemp("encoder")
    (pkg / "tokenizer.json").write_bytes((model_dir() / TOKENIZER_FILE).read_bytes())
    nodes = [
        helper.make_node("Cast", ["attention_mask"], ["mask"], to=TensorProto.FLOAT),
        helper.make_node("ReduceSum", ["mask"], ["count"], keepdims=1),
        helper.make_node("Tile", ["count", "reps"], ["embeddings"]),
    ]
    graph = helper.make_graph(
        nodes,
        "encoder",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"]),
        ],
        [helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor("reps", TensorProto.INT64, [2], [1, 4])],
    )
    onnx.save(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=10), pkg / "text_encoder.onnx"
    )
    entry = {
        "name": "tiny",
        "kind": "onnx-transformer",
        "dim": 4,
        "files": ["text_encoder.onnx", "tokenizer.json"],
        "onnx": "text_encoder.onnx",
        "tokenizer": "tokenizer.json",
        "max_length": 16,
        "output": "embeddings",
    }
    return pkg, entry


def test_onnx_text_encoder_prompts(onnx_transformer_package):
    from zoo_runtime.text import load_text_encoder

    pkg, entry = onnx_transformer_package
    encode = load_text_encoder(pkg, entry)
    assert encode(["a red circle"])[0, 0] == 5  # [CLS] a red circle [SEP]: the graph really ran
    with pytest.raises(ValueError, match=r"prompt 1 is not valid Unicode text"):
        encode(["fine", SURROGATE])
    with pytest.raises(TypeError, match=r"item 0 is bytes \(decode bytes first"):
        encode([b"a red circle"])


def test_onnx_text_encoder_garbage_files(onnx_transformer_package, tmp_path):
    import shutil

    from zoo_runtime.text import load_text_encoder

    src, entry = onnx_transformer_package
    for name, data, message in (
        ("tokenizer.json", b"\x00garbage", "is not a valid tokenizers file"),
        ("tokenizer.json", json.dumps({"model": 3}).encode(), "is not a valid tokenizers file"),
        ("text_encoder.onnx", b"\x08\x07garbage", "is not an ONNX model"),
        ("text_encoder.onnx", b"\x08\x07", "does not load in ONNX Runtime"),
    ):  # no graph
        pkg = tmp_path / f"{name}-{len(data)}"
        shutil.copytree(src, pkg)
        (pkg / name).write_bytes(data)
        with pytest.raises(ValueError) as info:  # TextEncoderError or PackageError, both ValueErrors
            load_text_encoder(pkg, entry)
        assert message in str(info.value) and "\n" not in str(info.value) and str(pkg) in str(info.value)
    with pytest.raises(ValueError, match="text_encoder.tokenizer' must be a normalised relative path"):
        load_text_encoder(src, {**entry, "tokenizer": "../tokenizer.json"})
    with pytest.raises(ValueError, match="text_encoder.max_length' must be an integer"):
        load_text_encoder(src, {**entry, "max_length": "16"})


def test_minilm_plugin_refuses_invalid_unicode_before_the_tokenizer():
    from zoo_minilm import MiniLMEncoder

    encoder = MiniLMEncoder()
    with pytest.raises(ValueError, match="prompt 0 is not valid Unicode text"):
        encoder.encode([SURROGATE])
    with pytest.raises(TypeError, match="prompt 0 is bytes"):
        encoder.encode([b"a red circle"])
    assert encoder._model is None  # refused before any weights were loaded
