"""Non-square images: "HxW" resolutions, fitting data to them, and shapes kept through train, export and runtime."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import zoo
from zoo.registry import ConfigError
from zoo.resolution import base_grid, fit_tensor, format_size, image_size


def test_image_size_and_base_grid():
    assert image_size(32) == (32, 32) and image_size("64x32") == (64, 32) and image_size([16, 64]) == (16, 64)
    assert format_size("32x32") == "32" and format_size([64, 32]) == "64x32"
    assert base_grid("64x32") == (8, 4, 3) and base_grid(32) == (4, 4, 3) and base_grid("32x128") == (4, 16, 3)
    for bad in ("64x", "axb", 0.5, True):
        with pytest.raises(ValueError, match="resolution"):
            image_size(bad)
    with pytest.raises(ValueError, match="power of two"):
        base_grid("48x32")


def test_fit_policies():
    # a 2-wide image, left half -1, right half +1, 4 high: to 4x4
    x = torch.cat([torch.full((1, 1, 4, 4), -1.0), torch.full((1, 1, 4, 4), 1.0)], dim=3)  # [1, 1, 4, 8]
    crop = fit_tensor(x, (4, 4), "crop")
    assert crop.shape == (1, 1, 4, 4) and torch.allclose(crop, x[:, :, :, 2:6])  # the centre, unscaled
    pad = fit_tensor(x, (4, 4), "pad")  # scaled to 2x4, padded above and below with the border's mean (0)
    assert pad.shape == (1, 1, 4, 4) and torch.all(pad[:, :, 0] == 0) and torch.all(pad[:, :, -1] == 0)
    stretch = fit_tensor(x, (4, 4), "stretch")
    assert stretch.shape == (1, 1, 4, 4) and stretch[0, 0, 0, 0] < 0 < stretch[0, 0, 0, -1]
    with pytest.raises(ValueError, match="crop, pad, stretch"):
        fit_tensor(x, (4, 4), "zoom")


def test_datasets_fit_and_say_so(tmp_path):
    from PIL import Image

    for i in range(2):
        Image.new("RGB", (40, 20), (200, 10 * i, 0)).save(tmp_path / f"{i}.png")  # wide images
    folder = zoo.load_dataset(str(tmp_path), resolution="32x16", channels=3, fit="pad")
    assert folder.images.shape == (2, 3, 32, 16) and "by pad" in folder.notes[-1]
    shapes = zoo.load_dataset("builtin:shapes", resolution="16x32", channels=3, n=3)
    assert shapes.images.shape == (3, 3, 16, 32) and "by crop" in shapes.notes[-1]


def _nonsquare_size(model) -> str:
    h = image_size(model.config["resolution"])[0]
    return f"{h}x{h // 2}"


@pytest.mark.parametrize("name", zoo.list_models())
def test_every_architecture_builds_non_square_or_says_it_cannot(name, one_torch_thread):
    from zoo.exporting.testing import tiny_config

    spec_config = zoo.create_model(name, **tiny_config(name)).config
    if "resolution" not in spec_config:
        pytest.skip(f"{name} has no resolution")
    size = _nonsquare_size(zoo.create_model(name, **tiny_config(name)))
    try:
        model = zoo.create_model(name, resolution=size, **tiny_config(name))
    except ConfigError as e:  # an architecture defined at one shape says so, naming itself
        assert name in str(e)
        return
    cond = {"labels": 0} if model.conditioning == "class" else {}
    if model.conditioning == "text":
        cond = {"embeddings": np.zeros((2, model.config["text_dim"]), np.float32)}
    images = model.sample(2, seed=0, **cond)
    assert tuple(images.shape[2:]) == image_size(size)
    c = model.make_condition(2, 0, **cond)
    assert model.discriminator(images, c).shape == (2,)


@pytest.mark.parametrize("name", ["dcgan32", pytest.param("stylegan2_32", marks=pytest.mark.slow)])
def test_non_square_keeps_its_shape_through_train_export_runtime(name, tmp_path, one_torch_thread):
    import zoo_runtime
    from zoo.exporting.testing import tiny_config
    from zoo.images import to_uint8

    model = zoo.train(
        name,
        "builtin:shapes",
        tmp_path / "run",
        config={"resolution": "32x16", **tiny_config(name)},
        steps=2,
        batch_size=4,
        eval_samples=0,
        sample_every=2,
        progress=False,
    )
    assert model.sample(1, seed=0).shape == (1, 3, 32, 16)
    again = zoo.load(tmp_path / "run")
    assert again.config["resolution"] == "32x16"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pkg = zoo.export(again, tmp_path / "pkg", progress=False)
    gen = zoo_runtime.load(pkg, providers="cpu")
    assert (gen.manifest["image"]["height"], gen.manifest["image"]["width"]) == (32, 16)
    images = gen.generate(3, seed=1)
    assert images.shape == (3, 32, 16, 3)
    assert np.abs(images.astype(int) - to_uint8(again.sample(3, seed=1)).astype(int)).max() <= 1
