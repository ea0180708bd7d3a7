"""The same walk in the zoo and in zoo_runtime from an exported package (w space needs its synthesis entry)."""

from __future__ import annotations

import numpy as np
import pytest

import zoo_runtime
from zoo.images import to_uint8
from zoo.latents import interpolate, style_mix, synthesize
from zoo_runtime.interpolate import map_latents, seed_latents, walk_images


@pytest.fixture(scope="module")
def sg2_class(package):
    return package("stylegan2_32", conditioning="class", num_classes=4)


def _levels(a, b) -> int:
    return int(np.abs(a.astype(np.int16) - b.astype(np.int16)).max())


def test_package_has_a_synthesis_entry(sg2_class):
    path, model = sg2_class
    gen = zoo_runtime.load(path, providers="cpu")
    entry = gen.manifest["synthesis"]
    assert entry["num_ws"] == model.generator.num_ws and entry["w_dim"] == model.generator.w_dim
    assert {"mapping.onnx", "synthesis.onnx"} <= set(gen.manifest["files"])
    assert entry["parity"]["synthesis_uint8_max_levels"] <= 1


@pytest.mark.parametrize("space,loop", [("w", True), ("z", False)])
def test_same_seed_same_frames_in_zoo_and_runtime(sg2_class, space, loop):
    path, model = sg2_class
    gen = zoo_runtime.load(path, providers="cpu")
    tol = gen.manifest["tolerances"]["fp32"]["uint8_max_levels"]
    ours = walk_images(gen, seeds=[3, 17, 42], frames=7, loop=loop, space=space)
    theirs = to_uint8(interpolate(model, seeds=[3, 17, 42], frames=7, loop=loop, space=space))
    assert ours.shape == theirs.shape == (7, 32, 32, 3)
    assert _levels(ours, theirs) <= tol
    # frame 0 is image 0 of `generate(seed=3)`
    assert _levels(ours[0], gen.generate(1, seed=3)[0]) <= tol


def test_generate_takes_w_and_w_plus(sg2_class):
    path, model = sg2_class
    gen = zoo_runtime.load(path, providers="cpu")
    ws = map_latents(gen, seed_latents([1, 2], gen.latent_dim), labels=[0, 3])
    assert ws.shape == (2, gen.manifest["synthesis"]["num_ws"], gen.manifest["synthesis"]["w_dim"])
    w = ws[:, 0]
    ws[:, :2] = w[::-1, None]
    assert _levels(gen.generate(w=w), to_uint8(synthesize(model, w))) <= 1
    assert _levels(gen.generate(w=ws), to_uint8(synthesize(model, ws))) <= 1
    with pytest.raises(ValueError, match="w must be"):
        gen.generate(w=np.zeros((1, 5), np.float32))


def test_runtime_text_walk_between_prompts(package):
    path, model = package("dcgan32", conditioning="text", text_dim=256, text_encoder="hash")
    gen = zoo_runtime.load(path, providers="cpu")
    ours = walk_images(gen, seeds=[2], frames=4, prompt_pair=["a red circle", "a blue square"])
    theirs = to_uint8(interpolate(model, seeds=[2], frames=4, prompt_pair=["a red circle", "a blue square"]))
    assert _levels(ours, theirs) <= 1


def test_packages_without_mapping_have_no_w(package):
    path, _ = package("dcgan32")
    gen = zoo_runtime.load(path, providers="cpu")
    assert "synthesis" not in gen.manifest
    with pytest.raises(ValueError, match="no synthesis entry"):
        walk_images(gen, seeds=[1, 2], frames=3, space="w")
    assert walk_images(gen, seeds=[1, 2], frames=3).shape[0] == 3  # z by default


def test_style_mix_in_the_runtime_matches(sg2_class):
    """The style-mixing cells come from synthesis of mixed ws: the runtime renders them the same."""
    path, model = sg2_class
    gen = zoo_runtime.load(path, providers="cpu")
    grid = to_uint8(style_mix(model, [1], [2], layers=[0, 1], labels=1))
    ws = map_latents(gen, seed_latents([1, 2], gen.latent_dim), labels=[1, 1])
    ws[0, :2] = ws[1, 0]
    assert _levels(gen.generate(w=ws[:1])[0], grid[3]) <= 1
