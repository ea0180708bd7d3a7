"""builtin:pairs: 32x64 scenes of two objects side by side; shape, determinism, both objects drawn."""

import pytest
import torch

from zoo.data import DatasetError, load_dataset, pairs, shapes


def _rgb(name):  # the colour as it is in [-1, 1] tensors, [3, 1, 1]
    return torch.tensor(shapes.RGB[name], dtype=torch.float32).view(3, 1, 1) / 127.5 - 1


def test_pairs_shape_labels_and_captions():
    d = load_dataset("builtin:pairs", "32x64", n=40, seed=0, captions="template")
    assert d.images.shape == (40, 3, 32, 64) and d.images.dtype == torch.float32
    assert d.images.min() >= -1 and d.images.max() <= 1 and d.notes == []
    assert d.class_names == pairs.CLASS_NAMES and len(d.class_names) == 9
    for a, cap, lab in zip(d.attributes, d.captions, d.labels.tolist()):
        assert d.class_names[lab] == f"{a['left']['shape']}|{a['right']['shape']}"
        assert cap == pairs.caption_for(a) and " left of a " in cap
    assert len(set(d.labels.tolist())) > 5  # the pairs vary
    assert load_dataset("builtin:pairs").images.shape[-2:] == (32, 64)  # 32x64 by default


def test_pairs_deterministic_and_prefix_stable():
    a = load_dataset("builtin:pairs", "32x64", n=20, seed=3)
    b = load_dataset("builtin:pairs", "32x64", n=20, seed=3)
    c = load_dataset("builtin:pairs", "32x64", n=5, seed=3)
    other = load_dataset("builtin:pairs", "32x64", n=20, seed=4)
    assert torch.equal(a.images, b.images) and a.captions == b.captions
    assert torch.equal(a.images[:5], c.images)
    assert not torch.equal(a.images, other.images)
    assert a.fingerprint() == b.fingerprint() != other.fingerprint()


def test_pairs_both_objects_present_one_per_half():
    d = load_dataset("builtin:pairs", "32x64", n=30, seed=1)
    for img, a in zip(d.images, d.attributes):
        for half, side in ((img[:, :, :32], "left"), (img[:, :, 32:], "right")):
            # pixels of the object's own colour cover a good part of its half (a small triangle: ~3%, a missing one: 0)
            near = ((half - _rgb(a[side]["colour"])).abs().amax(0) < 0.1).float().mean()
            assert near > 0.015, (side, a)
            background = ((half - _rgb(a["background"])).abs().amax(0) < 0.1).float().mean()
            assert background > 0.4, (side, a)


def test_pairs_other_sizes_and_errors():
    assert load_dataset("builtin:pairs", "64x128", n=2).images.shape == (2, 3, 64, 128)
    square = load_dataset("builtin:pairs", 32, n=2, fit="pad")
    assert square.images.shape == (2, 3, 32, 32) and "by pad" in square.notes[0]
    assert load_dataset("builtin:pairs", "32x64", 1, n=2).images.shape == (2, 1, 32, 64)
    with pytest.raises(DatasetError, match="n must be positive"):
        load_dataset("builtin:pairs", n=0)
    with pytest.raises(DatasetError, match="builtin:pairs"):
        load_dataset("builtin:nope")
