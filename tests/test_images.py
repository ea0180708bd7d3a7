"""One image and hashing toolkit: zoo draws and hashes with zoo_runtime's functions, and refuses
shapes it does not take (a float [N, C, H, W] batch where uint8 [N, H, W, C] pixels are expected)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch
from PIL import Image

import zoo_runtime.images
import zoo_runtime.package
from zoo import images, weights


def test_zoo_uses_the_runtime_toolkit():
    assert images.make_grid is zoo_runtime.images.make_grid
    assert images.png_bytes is zoo_runtime.images.png_bytes
    assert images.save_png is zoo_runtime.images.save_png
    assert weights.sha256_file is zoo_runtime.package.sha256_file


def test_float_batch_to_grid_png(tmp_path):
    x = torch.full((3, 1, 4, 5), -1.0)
    x[1] = 1.0
    x[2, 0, 0, 0] = 0.0  # 127.5 rounds half up
    path = images.save_grid(x, tmp_path / "g.png", nrow=3)
    grid = np.asarray(Image.open(path))
    assert grid.shape == (2 + 4 + 2, 2 + 3 * (5 + 2)) and grid.dtype == np.uint8
    assert grid[2:6, 2:7].max() == 0 and (grid[2:6, 9:14] == 255).all() and grid[2, 16] == 128
    assert not list(tmp_path.glob(".*.tmp*"))
    assert weights.sha256_file(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_bad_shapes_are_refused_with_a_message(tmp_path):
    nchw = torch.zeros(2, 3, 8, 8)
    with pytest.raises(ValueError, match=r"uint8 \[N, H, W, C\].*float32 \[2, 3, 8, 8\].*to_uint8"):
        images.make_grid(nchw.numpy())
    with pytest.raises(ValueError, match=r"channels first"):
        images.make_grid(np.zeros((2, 3, 8, 8), np.uint8))  # uint8, but channels first: not drawn as 8 channels
    with pytest.raises(ValueError, match="already pixels"):
        images.to_uint8(np.zeros((2, 8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match=r"channels last\?"):
        images.to_uint8(np.zeros((2, 8, 8, 3), np.float32))
    with pytest.raises(ValueError, match="uint8 \\[N, H, W, C\\]"):
        images.save_png(nchw.numpy(), tmp_path / "x.png")
    assert not list(tmp_path.iterdir())  # nothing half-written
    one = images.save_png(np.full((4, 5, 3), 7, np.uint8), tmp_path / "one.png")  # one picture [H, W, C] as it is
    assert np.asarray(Image.open(one)).shape == (4, 5, 3) and np.asarray(Image.open(one)).max() == 7
    assert images.to_uint8(nchw).shape == (2, 8, 8, 3)
