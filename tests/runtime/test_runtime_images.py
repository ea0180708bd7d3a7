"""PNG files written by the runtime (its own zlib encoder) read back exactly with Pillow."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from zoo_runtime.images import make_grid, png_bytes, save_png


@pytest.mark.parametrize("channels, mode", [(1, "L"), (2, "LA"), (3, "RGB"), (4, "RGBA")])
def test_png_round_trip(tmp_path, channels, mode):
    images = np.random.default_rng(channels).integers(0, 256, (1, 9, 13, channels), dtype=np.uint8)
    save_png(images, tmp_path / "x.png")
    with Image.open(tmp_path / "x.png") as im:
        assert im.mode == mode and im.size == (13, 9)
        assert np.array_equal(np.asarray(im).reshape(images[0].shape), images[0])


def test_grid_and_other_formats(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (5, 4, 6, 3), dtype=np.uint8)
    grid = make_grid(images, nrow=3, pad=1)
    assert grid.shape == (1 + 2 * 5, 1 + 3 * 7, 3)
    assert np.array_equal(grid[1:5, 8:14], images[1]) and np.array_equal(grid[6:10, 1:7], images[3])
    save_png(images, tmp_path / "g.jpg")
    with Image.open(tmp_path / "g.jpg") as im:
        assert im.format == "JPEG"
    with pytest.raises(ValueError, match="uint8"):
        png_bytes(np.zeros((2, 2, 3), np.float32))
    with pytest.raises(ValueError, match=r"\.txt is not an image format; use \.png"):
        save_png(images, tmp_path / "g.txt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.jpg"]  # no temporary files left
