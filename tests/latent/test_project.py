"""Projection: it lowers the distance to an image nobody trained on, and its latent reproduces the result."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import zoo
from zoo.latents import project, synthesize, write_projection
from zoo.latents.project import Perceptual, distances, load_target


def _random_distance(model, target, perceptual, seeds=range(8)):
    """The mean distance of random samples (the 'random latent' baseline)."""
    label = {"labels": 0} if model.conditioning == "class" else {}
    images = model.sample(len(seeds), seed=123, **label)
    return np.mean([distances(images[i : i + 1], target, perceptual)["pixel_rmse"] for i in range(len(images))])


def test_projection_of_a_letter_beats_random_latents_w(digits_sg2, letter, tmp_path):
    target = load_target(letter("A"), 32, 1)
    result = project(digits_sg2, target, steps=30, progress=False)
    perceptual = Perceptual(result.feature, 1, "cpu")
    assert result.space == "w" and result.latent.shape == (1, 128) and result.label in range(10)
    d = result.distances
    assert d["pixel_rmse"] < d["start_pixel_rmse"] and d["feature"] < d["start_feature"]
    assert d["pixel_rmse"] < _random_distance(digits_sg2, target, perceptual)
    # the saved latent reproduces the reconstruction
    info = write_projection(result, tmp_path / "proj", model_name=digits_sg2.name)
    w = np.load(tmp_path / "proj" / "latent.npy")
    assert torch.allclose(synthesize(digits_sg2, w), result.image, atol=1e-5)
    assert json.loads((tmp_path / "proj" / "projection.json").read_text())["distances"] == d
    assert {p.name for p in (tmp_path / "proj").iterdir()} == {
        "latent.npy",
        "target.png",
        "reconstruction.png",
        "side_by_side.png",
        "projection.json",
    }
    assert "--w" in info["use"]


@pytest.mark.slow  # slow: 9 s
def test_projection_in_z_for_a_model_without_mapping(letter):
    model = zoo.create_model("dcgan32.digits", pretrained=True)
    target = load_target(letter("K"), 32, 1)
    result = project(model, target, steps=25, progress=False)
    assert result.space == "z" and result.latent.shape == (1, 100 if model.latent_dim == 100 else model.latent_dim)
    assert result.distances["pixel_rmse"] < result.distances["start_pixel_rmse"]
    again = model.sample(1, z=torch.from_numpy(result.latent), labels=result.label)
    assert torch.allclose(again, result.image, atol=1e-5)


def test_w_plus_and_noise_optimisation(tiny_sg2, letter):
    target = load_target(letter("g", mode="RGB", fg=(255, 0, 0), bg=(0, 0, 255)), 32, 3)
    before = {k: v.clone() for k, v in tiny_sg2.generator.named_buffers()}
    result = project(tiny_sg2, target, steps=12, space="w+", optimize_noise=True, video_frames=4, progress=False)
    assert result.latent.shape == (1, tiny_sg2.generator.num_ws, tiny_sg2.generator.w_dim)
    assert result.noise and len(result.frames) == 4
    assert "latent_only_pixel_rmse" in result.distances
    for noise in result.noise.values():  # renormalised every step
        assert abs(noise.mean()) < 1e-3 and abs(noise.std() - 1) < 1e-2
    # the user's model is untouched (the projection optimises a copy's noise)
    assert all(torch.equal(before[k], v) for k, v in tiny_sg2.generator.named_buffers())


def test_projection_errors(digits_sg2, tmp_path, letter):
    with pytest.raises(ValueError, match="no mapping network"):
        project(zoo.create_model("dcgan32.shapes", pretrained=True), load_target(letter(), 32, 3), space="w", steps=1)
    with pytest.raises(ValueError, match="cannot read target"):
        (tmp_path / "x.png").write_bytes(b"not a png")
        load_target(tmp_path / "x.png", 32, 1)
    with pytest.raises(FileNotFoundError):
        load_target(tmp_path / "missing.png", 32, 1)
    with pytest.raises(ValueError, match="label must be in"):
        project(digits_sg2, load_target(letter(), 32, 1), label=12, steps=1)
    with pytest.raises(ValueError, match="steps"):
        project(digits_sg2, load_target(letter(), 32, 1), steps=0)
