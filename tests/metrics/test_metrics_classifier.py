"""The shipped digits classifier: loads, says what it is, and is as accurate as its metadata says."""

import torch

from zoo.data import load_dataset
from zoo.metrics import get_feature_extractor
from zoo.metrics.digits_classifier import DEFAULT_PATH, digits_split, load_digits_classifier, read_classifier_metadata


def test_shipped_classifier_metadata():
    meta = read_classifier_metadata(DEFAULT_PATH)
    assert meta["split"]["dataset"] == "builtin:digits" and meta["split"]["held_out"] > 300
    assert meta["held_out_accuracy"] > 0.95
    assert meta["seed"] == str(meta["split"]["seed"])


def test_shipped_classifier_held_out_accuracy():
    meta = read_classifier_metadata()
    model = load_digits_classifier()
    data = load_dataset("builtin:digits", 32, 1)
    _, test_idx = digits_split(meta["split"]["seed"], meta["split"]["held_out_fraction"])
    assert len(test_idx) == meta["split"]["held_out"]
    with torch.no_grad():
        pred = model(data.images[test_idx]).argmax(1)
    acc = (pred == data.labels[test_idx]).float().mean().item()
    assert acc >= meta["held_out_accuracy"] - 0.01


def test_split_is_fixed_and_disjoint():
    a_train, a_test = digits_split(0)
    b_train, b_test = digits_split(0)
    assert (a_test == b_test).all() and not set(a_train) & set(a_test)
    assert len(a_train) + len(a_test) == 1797


def test_digits_features_take_any_size_and_channels():
    ext = get_feature_extractor("digits")
    data = load_dataset("builtin:digits", 32, 1)
    f32 = ext(data.images[:100])
    assert f32.shape == (100, 128) and (f32 >= 0).all()
    rgb64 = load_dataset("builtin:digits", 64, 3).images[:100]
    assert ext(rgb64).shape == (100, 128)
    # the same digits at 3 channels and 64 px are read as at 1 channel and 32 px
    assert (ext.predict(rgb64) == ext.predict(data.images[:100])).float().mean() >= 0.98
