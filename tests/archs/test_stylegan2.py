"""StyleGAN2 (zoo/archs/stylegan2.py): the contract, the pieces the paper defines, export."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import zoo
from zoo.archs.stylegan2 import ModulatedConv2d, minibatch_std
from zoo.registry import ConfigError
from zoo.testing import check_all_conditionings

TINY = dict(width=4, max_channels=8, latent_dim=16, w_dim=16, mapping_layers=2)


@pytest.mark.parametrize("name", ["stylegan2_32", "stylegan2_64"])
def test_contract_every_conditioning(name, tmp_path):
    check_all_conditionings(name, **TINY)


def test_modulated_conv_equals_grouped_conv_reference():
    """The batch-agnostic form (scale input, shared conv, scale output) = the paper's per-sample weights."""
    torch.manual_seed(0)
    conv = ModulatedConv2d(5, 7, 3, w_dim=6)
    x, w = torch.randn(3, 5, 8, 8), torch.randn(3, 6)
    styles = conv.affine(w)  # [N, in]
    weight = conv.weight * conv.weight_gain
    wmod = weight[None] * styles[:, None, :, None, None]  # [N, out, in, k, k]
    wmod = wmod * (wmod.square().sum(dim=(2, 3, 4), keepdim=True) + 1e-8).rsqrt()
    ref = F.conv2d(x.reshape(1, -1, 8, 8), wmod.reshape(-1, 5, 3, 3), padding=1, groups=3).reshape(3, 7, 8, 8)
    assert torch.allclose(conv(x, w), ref, atol=1e-5)


def test_eval_is_deterministic_training_is_not():
    model = zoo.create_model("stylegan2_32", **TINY)
    g, z = model.generator, torch.randn(4, 16)
    g.eval()
    assert torch.equal(g(z), g(z))  # fixed noise buffers, no style mixing
    g.train()
    assert not torch.equal(g(z), g(z))  # fresh noise (and mixing) per call


def test_truncation_around_tracked_w_avg():
    model = zoo.create_model("stylegan2_32", **TINY)
    g, z = model.generator, torch.randn(5, 16)
    assert torch.count_nonzero(g.mapping.w_avg) == 0
    g.train()
    g(z)
    tracked = g.mapping.w_avg.clone()
    assert torch.count_nonzero(tracked) > 0  # updated in training mode
    g.eval()
    g(z)
    assert torch.equal(g.mapping.w_avg, tracked)  # never in eval mode
    w = g.mapping(z)
    assert torch.allclose(g.mapping(z, truncation=torch.zeros(1)), tracked.expand(5, -1))
    half = g.mapping(z, truncation=torch.full((1,), 0.5))
    assert torch.allclose(half, tracked + 0.5 * (w - tracked), atol=1e-6)
    per_sample = g.mapping(z, truncation=torch.tensor([1.0, 0.5, 0.0, 1.0, 1.0]))  # [N] psi
    assert torch.allclose(per_sample[1], half[1], atol=1e-6) and torch.allclose(per_sample[0], w[0], atol=1e-6)
    assert torch.allclose(g(z, truncation=torch.ones(1)), g(z), atol=1e-5)


def test_style_mixing_uses_two_ws_in_training_only():
    model = zoo.create_model("stylegan2_32", **TINY, mixing=1.0)
    g, z = model.generator, torch.randn(8, 16)
    g.train()
    ws = g.styles(z)  # [N, num_ws, w_dim]
    assert ws.shape == (8, g.num_ws, 16)
    distinct = [(ws[i] - ws[i, :1]).abs().amax(dim=1).gt(0).sum().item() for i in range(8)]
    assert all(0 < k < g.num_ws for k in distinct)  # every sample switches w at a cutoff
    g.eval()
    ws = g.styles(z)
    assert torch.equal(ws, ws[:, :1].expand_as(ws))


def test_path_length_regularizer():
    torch.manual_seed(0)
    model = zoo.create_model("stylegan2_32", **TINY)
    g = model.generator.train()
    z = torch.randn(4, 16)
    reg = g.regularizer(z)
    assert reg.ndim == 0 and torch.isfinite(reg) and reg > 0
    reg.backward()
    assert g.blocks[-1].conv1.conv.weight.grad is not None and g.mapping.layers[0].weight.grad is not None
    assert g.pl_mean > 0  # the running mean of path lengths moved
    g.zero_grad()
    g.mapping.requires_grad_(False)  # FreezeG with K >= 1 freezes the mapping network
    g.regularizer(z).backward()
    assert g.blocks[0].conv1.conv.weight.grad is not None
    off = zoo.create_model("stylegan2_32", **TINY, pl_weight=0.0).generator
    assert off.regularizer(z).item() == 0


def test_mapping_and_blocks_exposed_for_transfer():
    model = zoo.create_model("stylegan2_64", **TINY)
    g, d = model.generator, model.discriminator
    assert len(g.blocks) == 5 and g.blocks[0].first  # 4, 8, 16, 32, 64: input side first
    assert len(d.blocks) == 4 and d.blocks[0].from_rgb is not None  # 64 -> 4
    assert g.num_ws == 2 * 5
    assert isinstance(g.mapping, torch.nn.Module)


def test_minibatch_std_any_batch():
    x = torch.randn(6, 3, 4, 4)
    assert minibatch_std(x, 4).shape == (6, 4, 4, 4)  # group of 3 divides 6
    assert minibatch_std(x[:1], 4).shape == (1, 4, 4, 4)
    assert torch.all(minibatch_std(x[:1], 4)[:, 3] < 1e-3)  # one sample: zero std


@pytest.mark.parametrize(
    "bad, match",
    [
        (dict(resolution=48), "power of two"),
        (dict(mixing=1.5), "mixing"),
        (dict(mapping_layers=0), "mapping_layers"),
    ],
)
def test_bad_config_is_a_clear_error(bad, match):
    with pytest.raises(ConfigError, match=match):
        zoo.create_model("stylegan2_32", **{**TINY, **bad})


def test_export_and_runtime_parity(tmp_path):
    """Class-conditional with truncation (the registry-wide export test covers the unconditional one)."""
    import zoo_runtime

    model = zoo.create_model("stylegan2_32", **TINY, conditioning="class", num_classes=3)
    with torch.no_grad():  # non-zero noise strengths, so the noise buffers matter in the graph
        for p in model.generator.parameters():
            if p.ndim == 0:
                p.fill_(0.3)
    pkg = zoo.export(model, tmp_path / "pkg", progress=False)
    gen = zoo_runtime.load(pkg, providers="cpu")
    labels = [0, 1, 2, 1, 0]
    for psi in (1.0, 0.6):
        ours = gen.generate(5, seed=3, labels=labels, truncation=psi)  # uint8 [5, H, W, C]
        ref = model.sample(5, seed=3, labels=labels, truncation=psi)
        ref_u8 = ((ref.permute(0, 2, 3, 1).numpy() + 1) * 127.5).round().clip(0, 255)
        assert ours.shape == (5, 32, 32, 3)
        assert np.abs(ours.astype(np.float32) - ref_u8).max() <= 1


def test_class_conditional_truncation_uses_per_class_centres():
    model = zoo.create_model("stylegan2_32", **TINY, conditioning="class", num_classes=3)
    mapping, z = model.generator.mapping, torch.randn(6, 16)
    c = torch.tensor([0, 0, 1, 1, 1, 0])  # class 2 absent
    mapping.train()
    w = mapping(z, c)
    offsets = mapping.condition.w_offset
    assert torch.count_nonzero(offsets[2]) == 0 and torch.count_nonzero(offsets[:2]) > 0
    mapping.eval()
    centre = mapping(z, c, truncation=torch.zeros(1))
    assert torch.allclose(centre, mapping.w_avg + offsets[c], atol=1e-6)  # psi 0: the class's centre
    assert not torch.allclose(centre[0], centre[2])
    assert w.shape == (6, 16)


def test_pretrained_digits_weights():
    model = zoo.create_model("stylegan2_32.digits", pretrained=True)
    assert model.name == "stylegan2_32.digits" and model.conditioning == "class" and model.config["channels"] == 1
    images = model.sample(10, seed=0, labels=list(range(10)), truncation=0.7)
    assert images.shape == (10, 1, 32, 32) and images.std() > 0.2


def test_pretrained_shapes_weights_64():
    model = zoo.create_model("stylegan2_64.shapes", pretrained=True)  # sha256 verified against index.json
    assert model.name == "stylegan2_64.shapes" and model.conditioning == "none" and model.config["channels"] == 3
    images = model.sample(8, seed=0, truncation=0.7)
    assert images.shape == (8, 3, 64, 64) and images.std() > 0.2
    assert (images.amax(dim=(2, 3)) - images.amin(dim=(2, 3))).mean() > 0.3  # more than a flat colour: a foreground


def test_finetune_freezes_mapping_and_first_blocks(tmp_path):
    """zoo finetune with every transfer method at once: FreezeG 2 (mapping + 4x4 block), FreezeD, L2-SP, EWC,
    ADA and adding class conditioning to an unconditional source."""
    source = zoo.save(zoo.create_model("stylegan2_32", channels=1, **TINY), tmp_path / "source.safetensors")
    tuned = zoo.finetune(
        str(source),
        "builtin:digits",
        tmp_path / "run",
        steps=2,
        batch_size=4,
        freeze_g=2,
        freeze_d=1,
        l2sp=0.1,
        ewc=0.1,
        condition="class:10",
        augment="ada",
        sample_every=1000,
        checkpoint_every=1000,
        eval_samples=0,
        progress=False,
    )
    assert tuned.conditioning == "class"
    before, after = zoo.load(source).generator, zoo.load(tmp_path / "run").generator
    same = lambda a, b: all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))  # noqa: E731
    assert same(before.mapping.layers, after.mapping.layers) and same(before.blocks[0], after.blocks[0])
    assert not same(before.blocks[-1], after.blocks[-1])
