"""The mode-seeking term (MSGAN, Mao et al. 2019): pairs share a condition, the term is large when two latents
give one image, it trains and is logged, and the option is checked."""

import json

import pytest
import torch

import zoo
from zoo.data.shapes import load_shapes
from zoo.testing import tiny_text_run
from zoo.training import losses
from zoo.training.recipe import Recipe


def test_paired_conditions_repeat_the_first_half():
    c = torch.arange(10.0).view(5, 2)
    p = losses.paired_conditions(c)
    assert torch.equal(p[:2], c[:2]) and torch.equal(p[2:4], c[:2]) and torch.equal(p[4], c[4])
    assert losses.paired_conditions(None) is None and torch.equal(losses.paired_conditions(c[:1]), c[:1])
    labels = losses.paired_conditions(torch.tensor([3, 1, 4, 1]))
    assert labels.tolist() == [3, 1, 3, 1]


def test_mode_seeking_is_large_for_collapse_and_pushes_images_apart():
    z = torch.randn(8, 16)
    same = torch.ones(8, 3, 4, 4)
    varied = torch.randn(8, 3, 4, 4)
    assert float(losses.mode_seeking(same, z)) > 1e4 > 10 * float(losses.mode_seeking(varied, z))
    x = torch.randn(8, 3, 4, 4, requires_grad=True)
    losses.mode_seeking(x, z).backward()
    step = x - 0.1 * x.grad  # one descent step on the term spreads the pairs apart
    before, after = (x[:4] - x[4:]).abs().mean(), (step[:4] - step[4:]).abs().mean()
    assert after > before


def test_a_text_run_with_mode_seeking_logs_it(tmp_path):
    data = load_shapes(32, 3, n=32, seed=0, progress=False)
    run = tmp_path / "run"
    tiny_text_run(data, run, log_every=1, mode_seeking=1.0)
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert all(r["mode_seeking"] > 0 for r in records)
    assert json.loads(zoo.weights.read_metadata(run / "model.safetensors")["recipe"])["mode_seeking"] == 1.0


def test_negative_weight_is_refused():
    with pytest.raises(ValueError, match="mode_seeking must be >= 0"):
        Recipe(mode_seeking=-1).resolved()
