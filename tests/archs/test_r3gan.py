"""R3GAN (zoo/archs/r3gan.py): the contract, the pieces the paper defines, transfer and export."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import zoo
from zoo.archs.r3gan import CIFAR10, FFHQ64, FFHQ256, Resample, ResidualBlock, lowpass_kernel, stage_plan
from zoo.registry import ConfigError
from zoo.testing import check_all_conditionings

TINY = dict(width=16, latent_dim=8)


@pytest.mark.parametrize("name", ["r3gan32_small", "r3gan64_small"])
def test_contract_every_conditioning(name):
    check_all_conditionings(name, **TINY)


def test_paper_presets_widths_and_cardinality():
    """brownvc/R3GAN train.py: widths 768 (384, 192, 96 where halved), cardinality 96 (48, 24, 12)."""
    assert stage_plan(CIFAR10) == ([768] * 4, [96] * 4)
    assert stage_plan(FFHQ64) == ([768] * 4 + [384], [96] * 4 + [48])
    assert stage_plan(FFHQ256) == ([768] * 4 + [384, 192, 96], [96] * 4 + [48, 24, 12])


def test_residual_block_starts_as_identity_and_is_grouped():
    torch.manual_seed(0)
    block = ResidualBlock(16, expansion=2, groups=4, num_blocks=8)
    x = torch.randn(2, 16, 8, 8)
    assert torch.equal(block(x), x)  # the last 1x1 conv is zero: fix-up
    assert block.grouped.groups == 4 and block.expand.out_channels == 32
    # fix-up variance scaling: the expanding conv's std is gain * L^(-1/4) / sqrt(fan_in)
    expected = np.sqrt(2 / 1.04) * 8**-0.25 / np.sqrt(16)
    assert abs(block.expand.weight.std().item() / expected - 1) < 0.1


def test_resampling_is_the_fixed_bilinear_lowpass():
    k = lowpass_kernel()
    assert torch.allclose(k, torch.outer(torch.tensor([1.0, 3, 3, 1]), torch.tensor([1.0, 3, 3, 1])) / 64)
    x = torch.randn(2, 3, 8, 8)
    up, down = Resample(3, up=True), Resample(3, up=False)
    assert up(x).shape == (2, 3, 16, 16) and down(x).shape == (2, 3, 4, 4)
    # inside the border the [1, 3, 3, 1] upsampler is bilinear interpolation (half-pixel centres)
    ref = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    assert torch.allclose(up(x)[..., 1:-1, 1:-1], ref[..., 1:-1, 1:-1], atol=1e-5)
    # downsampling: a [1, 3, 3, 1] / 8 filter per axis, stride 2, zero padding 1
    ref_down = F.conv2d(F.pad(x, (1, 1, 1, 1)), k.expand(3, 1, 4, 4), stride=2, groups=3)
    assert torch.allclose(down(x), ref_down, atol=1e-6)
    assert "kernel" not in up.state_dict()  # fixed, not a weight


def test_no_normalisation_layers_and_blocks_for_transfer():
    model = zoo.create_model("r3gan64_small", **TINY)
    norms = (torch.nn.BatchNorm2d, torch.nn.GroupNorm, torch.nn.LayerNorm, torch.nn.InstanceNorm2d)
    assert not any(isinstance(m, norms) for m in model.modules())
    assert len(model.generator.blocks) == 5 and len(model.discriminator.blocks) == 5  # 4..64 and 64..4
    assert model.generator.blocks[0].first


def test_adding_class_conditioning_keeps_outputs():
    """Zero-initialised conditioning: `--condition class` on a trained unconditional model changes nothing at step 0."""
    from zoo.conditioning import change_conditioning
    from zoo.data import load_dataset

    torch.manual_seed(0)
    model = zoo.create_model("r3gan32_small", **TINY)
    data = load_dataset("builtin:digits", resolution=32, channels=3)
    cond = change_conditioning(model, "class:10", data)
    z = torch.randn(4, 8)
    labels = torch.tensor([0, 3, 5, 9])
    model.generator.eval()
    cond.generator.eval()
    assert torch.allclose(model.generator(z), cond.generator(z, labels), atol=1e-6)
    x = torch.randn(4, 3, 32, 32)
    assert torch.allclose(model.discriminator(x), cond.discriminator(x, labels), atol=1e-5)


def test_freeze_first_stages(tmp_path):
    from zoo.training.transfer import blocks_to_freeze

    model = zoo.create_model("r3gan32_small", **TINY)
    names = [n for n, _ in blocks_to_freeze(model.discriminator, 2, "discriminator")]
    assert len(names) == 2


@pytest.mark.parametrize(
    "bad, match",
    [
        (dict(resolution=48), "power of two"),
        (dict(stage_widths=[1, 1]), "stage_widths needs 4"),
        (dict(width=24, group_width=16, expansion=1), "group_width"),
    ],
)
def test_bad_config_is_a_clear_error(bad, match):
    with pytest.raises(ConfigError, match=match):
        zoo.create_model("r3gan32_small", **{**TINY, **bad})


def test_export_and_runtime_parity_class_conditional(tmp_path):
    import zoo_runtime

    torch.manual_seed(0)
    model = zoo.create_model("r3gan32_small", **TINY, conditioning="class", num_classes=3)
    with torch.no_grad():  # non-zero residual branches, so the grouped convs matter in the graph
        for block in model.generator.modules():
            if isinstance(block, ResidualBlock):
                block.project.weight.normal_(0, 0.05)
    pkg = zoo.export(model, tmp_path / "pkg", progress=False)
    gen = zoo_runtime.load(pkg, providers="cpu")
    labels = [0, 1, 2, 1, 0]
    ours = gen.generate(5, seed=3, labels=labels)
    ref = model.sample(5, seed=3, labels=labels)
    ref_u8 = ((ref.permute(0, 2, 3, 1).numpy() + 1) * 127.5).round().clip(0, 255)
    assert ours.shape == (5, 32, 32, 3)
    assert np.abs(ours.astype(np.float32) - ref_u8).max() <= 1
