"""Registry-driven: every registered model exports, passes the parity gate, and the runtime gives
the same pixels as `zoo sample` for the same seed. A new architecture is tested the moment it is
registered (small widths through the config keys it already has: zoo.exporting.testing.tiny_config)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import zoo
import zoo_runtime
from zoo.images import to_uint8

MODELS = zoo.list_models()


def _condition(model, n):
    if model.conditioning == "class":
        return {"labels": [i % model.num_classes for i in range(n)]}
    if model.conditioning == "text":
        return {
            "embeddings": np.random.default_rng(0).standard_normal((n, model.config["text_dim"])).astype(np.float32)
        }
    return {}


@pytest.mark.parametrize("name", MODELS)
def test_every_registered_model_exports_with_parity(package, name):
    path, model = package(name)
    manifest = json.loads((path / "manifest.json").read_text())
    parity = manifest["parity"]
    assert parity["passed"] and parity["batch_sizes"] == [1, 5]
    assert parity["float_max_abs"] <= parity["tolerance"]["float_max_abs"]
    assert parity["uint8_max_levels"] <= 1
    assert manifest["latent_dim"] == model.latent_dim
    assert manifest["conditioning"]["kind"] == model.conditioning
    assert manifest["truncation"] == model.has_truncation
    assert manifest["image"] == {
        **manifest["image"],
        "height": model.config["resolution"],
        "width": model.config["resolution"],
        "channels": model.config["channels"],
        "layout": "NHWC",
        "dtype": "uint8",
    }

    # the runtime reproduces `zoo sample` (same seed -> same latents -> same pixels, +-1 level)
    gen = zoo_runtime.load(path, providers="cpu")
    kw = _condition(model, 6)
    psi = 0.7 if model.has_truncation else 1.0
    images = gen.generate(6, seed=11, truncation=psi, **kw)
    expected = to_uint8(model.sample(6, seed=11, truncation=psi, **kw))
    assert images.shape == expected.shape and images.dtype == np.uint8
    assert np.abs(images.astype(np.int16) - expected).max() <= 1
    assert np.array_equal(gen.generate(6, seed=11, truncation=psi, **kw), images)  # deterministic per seed


@pytest.mark.parametrize("name", [n for n in MODELS if n.startswith("dcgan32")][:1])
def test_conditional_variants_export(package, name):
    """The class and text inputs of conditional models (labels int64 [batch], embeddings float32)."""
    for config, extra in (
        ({"conditioning": "class", "num_classes": 10}, "labels"),
        ({"conditioning": "text", "text_dim": 256, "text_encoder": "hash"}, "embeddings"),
    ):
        path, model = package(name, **config)
        manifest = json.loads((path / "manifest.json").read_text())
        names = [i["name"] for i in manifest["inputs"]]
        assert names == ["z", extra]
        spec = manifest["inputs"][1]
        assert spec["shape"][0] == "batch" and spec["dtype"] == ("int64" if extra == "labels" else "float32")
        gen = zoo_runtime.load(path, providers="cpu")
        kw = _condition(model, 4)
        got = gen.generate(4, seed=3, **kw)
        assert np.abs(got.astype(np.int16) - to_uint8(model.sample(4, seed=3, **kw))).max() <= 1


def test_text_model_package_carries_the_text_encoder(package):
    """A text model's package holds its encoder's manifest entry; prompts then work in the runtime and
    give what the zoo gives for the same prompt."""
    path, model = package("dcgan32", conditioning="text", text_dim=256, text_encoder="hash")
    manifest = json.loads((path / "manifest.json").read_text())
    entry = manifest.get("text_encoder")
    assert entry, manifest.get("text_encoder_note")
    assert entry["dim"] == 256
    for f in entry.get("files", []):
        assert f in manifest["files"]
    gen = zoo_runtime.load(path, providers="cpu")
    prompt = "a small red circle on a blue background"
    got = gen.generate(3, seed=4, prompts=prompt)
    expected = to_uint8(model.sample(3, seed=4, prompts=[prompt]))
    assert np.abs(got.astype(np.int16) - expected).max() <= 1


def test_a_text_encoder_export_the_runtime_cannot_run_is_left_out_with_a_note(tmp_path, monkeypatch):
    """A plugin encoder whose export writes a kind zoo_runtime does not read: the package takes embeddings
    only and says why, instead of failing at the first prompt with 'upgrade zoo-runtime'."""
    import zoo
    from zoo.text import registry

    class BagOfChars:
        name, dim = "bagchar", 8

        def encode(self, texts):
            return np.array([[t.count(c) for c in "abcdefgh"] for t in texts], np.float32)

        def export(self, pkg_dir):
            return {"name": "bagchar", "kind": "bagchar", "dim": 8, "files": []}

    monkeypatch.setitem(registry._instances, "bagchar", BagOfChars())
    model = zoo.create_model("dcgan32", width=8, conditioning="text", text_dim=8, text_encoder="bagchar")
    with pytest.warns(UserWarning, match="zoo_runtime cannot run"):
        path = zoo.export(model, tmp_path / "pkg", progress=False, quality_n=16)
    manifest = json.loads((path / "manifest.json").read_text())
    assert (
        manifest.get("text_encoder") is None and "unknown text encoder kind 'bagchar'" in manifest["text_encoder_note"]
    )
    gen = zoo_runtime.load(path, providers="cpu")
    assert gen.generate(2, seed=0, embeddings=np.zeros((2, 8), np.float32)).shape == (2, 32, 32, 3)
