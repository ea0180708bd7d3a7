"""Latent-tool tests: tiny or shipped models on one torch thread; packages exported once per session."""

from __future__ import annotations

import warnings

import pytest


@pytest.fixture(autouse=True)
def one_thread(one_torch_thread):
    yield


@pytest.fixture(scope="session")
def digits_sg2():
    import zoo

    return zoo.create_model("stylegan2_32.digits", pretrained=True)


@pytest.fixture(scope="session")
def tiny_sg2():
    """An untrained tiny unconditional StyleGAN2 with non-zero noise strength (so noise paths matter)."""
    import torch

    import zoo
    from zoo.exporting.testing import tiny_config

    torch.manual_seed(0)
    model = zoo.create_model("stylegan2_32", **tiny_config("stylegan2_32")).eval()
    with torch.no_grad():
        for name, p in model.generator.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(0.1)
    return model


@pytest.fixture(scope="session")
def package(tmp_path_factory):
    from zoo.exporting.testing import cached_export

    root = tmp_path_factory.getbasetemp() / "zoo-export-packages"

    def make(name: str, **config):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return cached_export(root, name, **config)

    return make


@pytest.fixture
def letter(tmp_path):
    """A letter nobody trained on, drawn with Pillow's default font, as a PNG."""
    from PIL import Image, ImageDraw, ImageFont

    def draw(ch: str = "A", size: int = 64, mode: str = "L", fg=255, bg=0):
        img = Image.new(mode, (size, size), bg)
        ImageDraw.Draw(img).text(
            (size // 2, size // 2), ch, fill=fg, font=ImageFont.load_default(size=size * 3 // 4), anchor="mm"
        )
        path = tmp_path / f"letter_{ch}.png"
        img.save(path)
        return path

    return draw
