"""builtin:shapes: determinism, attributes, captions, exclude/only, rendering API."""

import pytest
import torch

from zoo.data import DatasetError, load_dataset, shapes


def test_shapes_shape_range_and_fields():
    d = load_dataset("builtin:shapes", 32, 3, n=60, seed=0, captions="template")
    assert d.images.shape == (60, 3, 32, 32) and d.images.dtype == torch.float32
    assert d.images.min() >= -1 and d.images.max() <= 1
    assert len(d.captions) == len(d.attributes) == 60
    assert d.class_names == list(shapes.SHAPES)
    for a, cap, lab in zip(d.attributes, d.captions, d.labels.tolist()):
        assert set(a) == {"shape", "colour", "size", "background", "x", "y"}
        assert a["colour"] != a["background"]
        assert (
            cap
            == shapes.caption_for(a)
            == f"a {a['size']} {a['colour']} {a['shape']} on a {a['background']} background"
        )
        assert d.class_names[lab] == a["shape"]
    assert d.fingerprint().startswith("builtin:shapes:60:")


def test_shapes_deterministic_and_prefix_stable():
    a = load_dataset("builtin:shapes", 16, 3, n=40, seed=3)
    b = load_dataset("builtin:shapes", 16, 3, n=40, seed=3)
    c = load_dataset("builtin:shapes", 16, 3, n=10, seed=3)
    other = load_dataset("builtin:shapes", 16, 3, n=40, seed=4)
    assert torch.equal(a.images, b.images) and a.captions == b.captions
    assert torch.equal(a.images[:10], c.images) and a.attributes[:10] == c.attributes
    assert not torch.equal(a.images, other.images)
    assert a.fingerprint() == b.fingerprint() != other.fingerprint()


def test_shapes_render_matches_dataset_and_grayscale():
    d = load_dataset("builtin:shapes", 32, 3, n=5, seed=1)
    for i, a in enumerate(d.attributes):
        assert torch.equal(shapes.render(a, 32), d.images[i])
    g = load_dataset("builtin:shapes", 32, 1, n=5, seed=1)
    assert g.images.shape == (5, 1, 32, 32)
    batch = shapes.render_batch(d.attributes, 24, 1)
    assert batch.shape == (5, 1, 24, 24)


def test_shapes_render_draws_the_colour_on_the_background():
    img = shapes.render({"shape": "square", "colour": "red", "size": "large", "background": "blue"}, 32)
    centre, corner = img[:, 16, 16], img[:, 0, 0]
    assert centre[0] > 0.5 and centre[2] < 0 and corner[2] > 0.5 and corner[0] < 0
    # a circle covers less of its box than a square of the same size; a triangle less still
    area = {
        s: (shapes.render({"shape": s, "colour": "white", "size": "large", "background": "black"}, 32)[0] > 0).sum()
        for s in shapes.SHAPES
    }
    assert area["triangle"] < area["circle"] < area["square"] * 1.3
    small = (
        shapes.render({"shape": "circle", "colour": "white", "size": "small", "background": "black"}, 32)[0] > 0
    ).sum()
    assert small < area["circle"] / 2


def test_shapes_exclude_and_only():
    d = load_dataset("builtin:shapes", 8, 3, n=300, seed=0, exclude=[("red", "circle"), {"background": "black"}])
    assert not any(a["colour"] == "red" and a["shape"] == "circle" for a in d.attributes)
    assert not any(a["background"] == "black" for a in d.attributes)
    assert any(a["colour"] == "red" for a in d.attributes) and any(a["shape"] == "circle" for a in d.attributes)
    o = load_dataset("builtin:shapes", 8, 3, n=50, seed=0, only=[("red", "circle"), ("blue", "square", "small")])
    assert {(a["colour"], a["shape"]) for a in o.attributes} == {("red", "circle"), ("blue", "square")}
    assert all(a["size"] == "small" for a in o.attributes if a["shape"] == "square")


def test_shapes_label_by_and_errors():
    d = load_dataset("builtin:shapes", 8, 3, n=30, seed=0, label_by="shape_colour")
    assert len(d.class_names) == len(shapes.SHAPES) * len(shapes.COLOURS)
    for a, lab in zip(d.attributes, d.labels.tolist()):
        assert d.class_names[lab] == f"{a['colour']} {a['shape']}"
    with pytest.raises(DatasetError, match="no attribute combination"):
        load_dataset("builtin:shapes", 8, 3, n=5, only=[("red", "circle")], exclude=[("circle",)])
    with pytest.raises(DatasetError, match="hexagon"):
        load_dataset("builtin:shapes", 8, 3, n=5, exclude=[("hexagon",)])
    with pytest.raises(DatasetError, match="label_by"):
        load_dataset("builtin:shapes", 8, 3, n=5, label_by="texture")
    with pytest.raises(DatasetError, match="both 'red'"):
        shapes.render({"shape": "circle", "colour": "red", "size": "small", "background": "red"})
