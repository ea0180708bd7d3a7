"""Registry-driven: every registered model (built-in or plugin) builds, runs, and round-trips its
weights bit for bit. A new architecture is tested the moment it is registered."""

from __future__ import annotations

import pytest
import torch

import zoo

CONDITIONINGS = {
    "none": {"conditioning": "none"},
    "class": {"conditioning": "class", "num_classes": 4},
    "text": {"conditioning": "text", "text_dim": 16},
}


# The paper-size R3GAN configs (20M+ parameters, up to 256 px) take half a minute each on 2 cores: run
# with -m slow. Their CPU-sized variants (r3gan32_small, r3gan64_small) cover the same code by default.
PAPER_SIZE = {"r3gan32", "r3gan64", "r3gan256"}
MODEL_PARAMS = [pytest.param(n, marks=pytest.mark.slow) if n in PAPER_SIZE else n for n in zoo.list_models()]


def _conditions(model, n):
    if model.conditioning == "class":
        return torch.arange(n) % model.num_classes
    if model.conditioning == "text":
        return torch.randn(n, model.config["text_dim"])
    return None


@pytest.mark.parametrize("name", MODEL_PARAMS)
@pytest.mark.parametrize("kind", list(CONDITIONINGS))
def test_build_forward_save_load(name, kind, tmp_path):
    torch.manual_seed(0)
    spec_config = zoo.registry.get_spec(name).default_config
    overrides = {k: v for k, v in CONDITIONINGS[kind].items() if k in spec_config}
    if kind != "none" and "conditioning" not in overrides:
        pytest.skip(f"{name} has no conditioning option")
    model = zoo.create_model(name, **overrides)
    cfg = model.config
    images = model.sample(3, seed=1, embeddings=torch.randn(3, cfg["text_dim"]) if kind == "text" else None)
    assert images.shape == (3, cfg["channels"], cfg["resolution"], cfg["resolution"])
    assert images.min() >= -1 and images.max() <= 1 and torch.isfinite(images).all()
    logits = model.discriminator(images, _conditions(model, 3))
    assert logits.shape == (3,)

    path = zoo.save(model, tmp_path / "m.safetensors")
    loaded = zoo.load(path)
    for key, tensor in model.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[key]), key
    kwargs = {"embeddings": torch.ones(2, cfg["text_dim"])} if kind == "text" else {}
    assert torch.equal(model.sample(2, seed=7, **kwargs), loaded.sample(2, seed=7, **kwargs))


def test_same_seed_same_images_different_seed_different_images():
    model = zoo.create_model("dcgan32", width=8)
    assert torch.equal(model.sample(4, seed=0), model.sample(4, seed=0))
    assert not torch.equal(model.sample(4, seed=0), model.sample(4, seed=1))


def test_sample_rejects_bad_inputs():
    model = zoo.create_model("dcgan32", width=8, conditioning="class", num_classes=10)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 9\]"):
        model.sample(2, labels=[3, 10])
    with pytest.raises(ValueError, match="class-conditional"):
        model.sample(2, prompts="a cat")
    with pytest.raises(ValueError, match="positive"):
        model.sample(0)
    plain = zoo.create_model("dcgan32", width=8)
    with pytest.raises(ValueError, match="unconditional"):
        plain.sample(2, labels=1)
    with pytest.raises(ValueError, match="no truncation trick"):  # was silently ignored
        plain.sample(2, truncation=0.5)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        plain.sample(2, seed=-1)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        plain.sample(2, seed=1.5)
    styled = zoo.create_model("stylegan2_32")
    assert styled.has_truncation
    with pytest.raises(ValueError, match="truncation must be finite"):  # was an all-NaN (black) image
        styled.sample(2, truncation=float("nan"))
