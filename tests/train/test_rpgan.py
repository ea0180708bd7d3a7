"""R3GAN's objective in the zoo's loop: --loss rpgan, --r2, --recipe r3gan (zoo/train/losses.py, recipe.py)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import zoo
from zoo.training import losses
from zoo.training.recipe import Recipe, finetune_recipe, scheduled, train_recipe

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "r3gan_modes.py"
spec = importlib.util.spec_from_file_location("bench_r3gan_modes", SCRIPT)
modes = importlib.util.module_from_spec(spec)
spec.loader.exec_module(modes)

FAST = dict(batch_size=8, sample_every=4, checkpoint_every=4, log_every=2, eval_samples=0, progress=False)


def test_rpgan_pairs_each_real_with_one_fake():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, 1.0])
    assert torch.allclose(losses.d_pair_loss(real, fake, "rpgan"), F.softplus(-(real - fake)).mean())
    assert torch.allclose(losses.g_pair_loss(fake, real, "rpgan"), F.softplus(-(fake - real)).mean())
    # shifting every logit by a constant changes nothing: only differences count
    assert torch.allclose(losses.d_pair_loss(real + 5, fake + 5, "rpgan"), losses.d_pair_loss(real, fake, "rpgan"))
    with pytest.raises(ValueError, match="paired"):
        losses.d_pair_loss(real, fake, "logistic")


def test_r2_is_the_gradient_norm_on_fakes():
    x = torch.randn(4, 3, requires_grad=True)
    w = torch.tensor([1.0, -2.0, 3.0])
    logits = x @ w  # grad = w for every sample
    assert torch.allclose(losses.r2_penalty(logits, x), w.square().sum())


def test_r3gan_recipe_and_its_ramps():
    r = train_recipe(preset="r3gan", steps=100, batch_size=10).resolved()
    assert (r.loss, r.r1, r.r2, r.betas, r.r1_every, r.augment, r.preset) == (
        "rpgan",
        0.05,
        0.05,
        (0.0, 0.99),
        1,
        "ada",
        "r3gan",
    )
    start, end = scheduled(r, 0), scheduled(r, 1000)
    assert start["lr"] == pytest.approx(2e-4) and end["lr"] == pytest.approx(5e-5)
    assert (start["beta2"], end["beta2"]) == (pytest.approx(0.9), pytest.approx(0.99))
    assert end["r1"] == pytest.approx(0.005) and end["r2"] == pytest.approx(0.005)
    assert (start["aug_p"], end["aug_p"]) == (0.0, pytest.approx(0.55))
    assert train_recipe(preset="r3gan", r2=0.3).r2 == 0.3  # options given win over the named recipe
    assert finetune_recipe(preset="r3gan").loss == "rpgan"
    assert scheduled(Recipe().resolved(), 500)["aug_p"] is None  # the default recipe: constant, ADA adapts
    with pytest.raises(ValueError, match="unknown recipe"):
        train_recipe(preset="nope")
    with pytest.raises(ValueError, match="r2"):
        Recipe(r2=-1).resolved()


@pytest.mark.parametrize("arch", ["dcgan32", "r3gan32_small"])
def test_train_with_r3gan_recipe_logs_r1_r2_and_the_ramp(arch, tmp_path):
    config = dict(width=8, channels=1)
    zoo.train(arch, "builtin:digits", tmp_path / "run", steps=4, config=config, preset="r3gan", **FAST)
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert all("r1" in r and "r2" in r for r in records)
    assert records[0]["aug_p"] < records[-1]["aug_p"] <= 0.55 and records[-1]["lr"] < 2e-4
    assert json.loads(zoo.load(tmp_path / "run").metadata["recipe"])["loss"] == "rpgan"


def test_rpgan_r1_r2_covers_every_mode_of_8_gaussians():
    """R3GAN's motivation in two dimensions (benchmarks/r3gan_modes.py has 3 seeds against non-saturating)."""
    assert modes.train("rpgan+r1+r2", seed=0, steps=600)["modes"] == 8
