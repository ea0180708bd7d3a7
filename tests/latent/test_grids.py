"""Truncation sweeps and style-mixing grids."""

from __future__ import annotations

import pytest
import torch

import zoo
from zoo.latents import style_mix, truncation_grid
from zoo.latents.grids import parse_layers


def test_truncation_grid_rows_share_latents(digits_sg2):
    grid = truncation_grid(digits_sg2, 3, [0.0, 0.5, 1.0], seed=2)
    assert grid.shape == (9, 1, 32, 32)
    assert torch.allclose(grid[2::3], digits_sg2.sample(3, seed=2))  # column psi=1 is the plain sample
    assert torch.allclose(grid[4], digits_sg2.sample(3, seed=2, truncation=0.5)[1])
    assert (grid[0] - grid[2]).abs().max() > 1e-2  # psi changes the image


def test_truncation_grid_refused_without_the_trick():
    with pytest.raises(ValueError, match="no truncation trick"):
        truncation_grid(zoo.create_model("dcgan32.shapes", pretrained=True), 2, [0.5, 1.0])


def test_style_mix_grid_layout(tiny_sg2):
    g = tiny_sg2.generator
    rows, cols = [1, 2], [3, 4, 5]
    grid = style_mix(tiny_sg2, rows, cols, layers=[0, 1])
    assert grid.shape == (3 * 4, 3, 32, 32)
    assert torch.all(grid[0] == -1)  # blank corner
    assert torch.allclose(grid[1:4], torch.cat([tiny_sg2.sample(1, seed=s) for s in cols]), atol=1e-4)
    assert torch.allclose(grid[4], tiny_sg2.sample(1, seed=1)[0], atol=1e-4)
    every = style_mix(tiny_sg2, rows, cols, layers=list(range(g.num_ws)))
    assert torch.allclose(every[5:8], every[1:4], atol=1e-4)  # all layers from the column: the column's image
    assert not torch.allclose(grid[5], every[5], atol=1e-3)  # some layers: something else


def test_style_mix_errors(tiny_sg2):
    with pytest.raises(ValueError, match="layers must be in"):
        parse_layers("0-99", tiny_sg2.generator.num_ws)
    with pytest.raises(ValueError, match="no mapping network"):
        style_mix(zoo.create_model("dcgan32.shapes", pretrained=True), [1], [2])
