"""Sample grids with a caption strip beside each row (text runs): every row is labelled, long captions wrap
and are cut, the images are unchanged."""

import numpy as np
import torch
from PIL import Image

from zoo.images import LABEL_STRIP_WIDTH, label_rows, make_grid, save_grid, to_uint8


def test_label_strip_beside_each_row_and_images_untouched(tmp_path):
    images = torch.rand(6, 3, 32, 32) * 2 - 1
    labels = ["a small red circle", "big blue square, grey backdrop " * 6]  # the second wraps and is cut
    path = save_grid(images, tmp_path / "g.png", nrow=3, row_labels=labels)
    grid = np.asarray(Image.open(path))
    plain = make_grid(to_uint8(images), nrow=3)
    assert grid.shape == (plain.shape[0], LABEL_STRIP_WIDTH + plain.shape[1], 3)
    assert np.array_equal(grid[:, LABEL_STRIP_WIDTH:], plain)
    for r in range(2):
        assert grid[2 + r * 34 : 2 + r * 34 + 32, :LABEL_STRIP_WIDTH].max() > 200, r  # text in each row's band
    # one short line for row 0, several lines for row 1 (wrapped, at most what fits in 32 pixels)
    rows_with_ink = lambda r: (grid[2 + r * 34 : 2 + r * 34 + 32, :LABEL_STRIP_WIDTH, 0] > 128).any(1).sum()  # noqa: E731
    assert rows_with_ink(1) > rows_with_ink(0)


def test_label_rows_grayscale_and_no_labels(tmp_path):
    grid = make_grid(np.zeros((2, 16, 16, 1), np.uint8), nrow=1)
    out = label_rows(grid, ["x", ""], row_height=16)
    assert out.shape == (grid.shape[0], LABEL_STRIP_WIDTH + grid.shape[1], 1)
    assert out[18:34, :LABEL_STRIP_WIDTH].max() == 0  # an empty label leaves its band blank
    plain = Image.open(save_grid(torch.zeros(2, 1, 8, 8), tmp_path / "plain.png", nrow=1))
    assert plain.size == (8 + 4, 2 * 10 + 2)  # no labels: no strip
