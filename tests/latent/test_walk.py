"""Latent walks with PyTorch: key frames are the seeds' samples, spaces and conditions behave."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import zoo
from zoo.latents import interpolate, latent_keys, map_latents, synthesize


def test_w_walk_key_frames_are_the_seeds_samples(digits_sg2):
    frames = interpolate(digits_sg2, seeds=[1, 2, 3], frames=9)
    assert frames.shape == (9, 1, 32, 32)
    for i, seed in ((0, 1), (4, 2), (8, 3)):  # keys at 0, 4 and 8 of 9 frames
        assert torch.allclose(frames[i], digits_sg2.sample(1, seed=seed)[0], atol=1e-4)
    assert (frames[1] - frames[0]).abs().max() > 1e-3  # frames in between differ


def test_z_walk_keeps_one_class_and_matches_the_sample(digits_sg2):
    frames = interpolate(digits_sg2, seeds=[5, 6], frames=4, space="z", labels=3)
    assert torch.allclose(frames[0], digits_sg2.sample(1, seed=5, labels=3)[0], atol=1e-4)
    assert torch.allclose(frames[-1], digits_sg2.sample(1, seed=6, labels=3)[0], atol=1e-4)


def test_dcgan_walks_in_z_only():
    model = zoo.create_model("dcgan32.shapes", pretrained=True)
    frames = interpolate(model, seeds=[0, 1], frames=5, loop=True)
    assert frames.shape == (5, 3, 32, 32)
    assert torch.allclose(frames[0], model.sample(1, seed=0)[0], atol=1e-4)
    with pytest.raises(ValueError, match="no mapping network"):
        interpolate(model, seeds=[0, 1], frames=5, space="w")


def test_text_model_walks_between_two_prompts():
    model = zoo.create_model("dcgan32.shapes-text", pretrained=True)
    frames = interpolate(model, seeds=[4], frames=5, prompt_pair=["a red circle", "a blue square"])
    assert torch.allclose(frames[0], model.sample(1, seed=4, prompts="a red circle")[0], atol=1e-4)
    assert torch.allclose(frames[-1], model.sample(1, seed=4, prompts="a blue square")[0], atol=1e-4)
    with pytest.raises(ValueError, match="not text-conditional"):
        interpolate(zoo.create_model("dcgan32.shapes", pretrained=True), frames=3, prompt_pair=["a", "b"])


def test_keys_from_files_and_seeds(tmp_path, digits_sg2):
    w = map_latents(
        digits_sg2, np.random.default_rng(0).standard_normal((1, 128)).astype(np.float32), torch.tensor([2])
    ).numpy()
    np.save(tmp_path / "w.npy", w)
    keys = latent_keys(digits_sg2, [tmp_path / "w.npy", 7], space="w")
    assert keys.shape == (2, 128) and np.allclose(keys[0], w[0])
    frames = interpolate(digits_sg2, frames=3, keys=keys)
    assert torch.allclose(frames[0], synthesize(digits_sg2, w)[0], atol=1e-5)
    assert torch.allclose(frames[-1], digits_sg2.sample(1, seed=7)[0], atol=1e-4)
    np.save(tmp_path / "wplus.npy", np.repeat(w[:, None], digits_sg2.generator.num_ws, 1))
    assert latent_keys(digits_sg2, [tmp_path / "wplus.npy", 7], space="w").shape == (
        2,
        digits_sg2.generator.num_ws,
        128,
    )
    np.save(tmp_path / "bad.npy", np.zeros((1, 5), np.float32))
    with pytest.raises(ValueError, match="D in"):
        latent_keys(digits_sg2, [tmp_path / "bad.npy", 3], space="w")
