"""stylegan2_ada: the zoo contract, FIR resampling against its definition, and conditioning
surgery (adding or resizing a conditioning keeps the outputs), which fine-tuning imported models needs."""

from __future__ import annotations

import torch
import torch.nn.functional as F

import zoo
from zoo.archs.stylegan2_ada import fir_filter, upsample_2x
from zoo.conditioning import change_conditioning
from zoo.testing import check_all_conditionings
from zoo.training.transfer import freeze


def _fir_by_definition(x, up=1, down=1, pad=(0, 0), gain=1.0):
    """upfirdn: insert zeros, pad, correlate with the 4x4 [1,3,3,1] filter, keep every down-th pixel."""
    n, c, h, w = x.shape
    if up > 1:
        y = torch.zeros(n, c, h * up, w * up)
        y[:, :, ::up, ::up] = x
        x = y
    x = F.pad(x, [pad[0], pad[1], pad[0], pad[1]])
    taps = torch.tensor([1.0, 3.0, 3.0, 1.0])
    f = (torch.outer(taps, taps) / 64 * gain).expand(c, 1, 4, 4)
    return F.conv2d(x, f, groups=c)[:, :, ::down, ::down]


def test_fir_resampling_matches_its_definition():
    x = torch.randn(2, 3, 8, 8)
    assert torch.allclose(upsample_2x(x), _fir_by_definition(x, up=2, pad=(2, 1), gain=4.0), atol=1e-6)
    assert torch.allclose(fir_filter(x, pad=1, stride=2), _fir_by_definition(x, down=2, pad=(1, 1)), atol=1e-6)
    assert torch.allclose(fir_filter(x, pad=2), _fir_by_definition(x, pad=(2, 2)), atol=1e-6)
    assert upsample_2x(x).shape[-1] == 16 and fir_filter(x, pad=1, stride=2).shape[-1] == 4


def test_contract_all_conditionings():
    check_all_conditionings("stylegan2_ada", max_channels=16, w_dim=32)


def test_conv_clamp_and_cutoff_apply():
    torch.manual_seed(0)
    plain = zoo.create_model("stylegan2_ada", max_channels=16).eval()
    clamped = zoo.create_model("stylegan2_ada", max_channels=16, conv_clamp=1e-3).eval()
    clamped.load_state_dict(plain.state_dict())
    z = torch.randn(2, plain.latent_dim)
    with torch.no_grad():
        a = plain.generator.synthesis(plain.generator.styles(z))
        b = clamped.generator.synthesis(clamped.generator.styles(z))
        # the image sums one clamped ToRGB output per resolution (each up-sampled by an FIR of gain 1)
        assert b.abs().max() <= len(clamped.generator.blocks) * 1e-3 < a.abs().max()
        G = plain.generator
        G.mapping.w_avg.normal_()
        G.truncation_cutoff = 3
        ws = G.styles(z, truncation=torch.zeros(1))
        assert torch.allclose(ws[:, :3], G.mapping.w_avg.expand(2, 3, -1))
        assert not torch.allclose(ws[:, 3:], G.mapping.w_avg.expand(2, G.num_ws - 3, -1))


def test_adding_and_resizing_class_conditioning_keeps_the_images():
    torch.manual_seed(0)

    class Data:
        labels = torch.tensor([0, 1, 2, 5])
        num_classes = 6

    source = zoo.create_model("stylegan2_ada", max_channels=16).eval()
    z = torch.randn(3, source.latent_dim)
    with torch.no_grad():
        before = source.generator(z, None, torch.ones(1))
        logits = source.discriminator(before)
    added = change_conditioning(source, "class:6", Data()).eval()
    c = torch.tensor([0, 3, 5])
    with torch.no_grad():
        assert torch.allclose(added.generator(z, c, torch.ones(1)), before, atol=1e-6)
        assert torch.allclose(added.discriminator(before, c), logits, atol=1e-6)
    with torch.no_grad():  # let the new conditioning matter, then resize it: known classes keep their images
        added.generator.mapping.condition.proj.normal_()
        known = added.generator(z, c, torch.ones(1))
    resized = change_conditioning(added, "class:8", Data()).eval()
    with torch.no_grad():
        assert torch.allclose(resized.generator(z, c, torch.ones(1)), known, atol=1e-6)


def test_freeze_counts_mapping_and_blocks():
    model = zoo.create_model("stylegan2_ada", max_channels=16)
    frozen = freeze(model, 2, 2)
    assert any("mapping" in name for name in frozen)
    assert not any(p.requires_grad for p in model.generator.mapping.parameters())
    assert not any(p.requires_grad for p in model.discriminator.blocks[1].parameters())
    assert all(p.requires_grad for p in model.discriminator.blocks[2].parameters())


def test_w_space_entry_matches_the_generator():
    """mapping(z, c, psi) then synthesis(ws) is what the generator does (the w-space tools and export use it)."""
    torch.manual_seed(0)
    model = zoo.create_model("stylegan2_ada", max_channels=16, conditioning="class", num_classes=3).eval()
    G = model.generator
    with torch.no_grad():
        G.mapping.w_avg.normal_()
        z, c, psi = torch.randn(2, model.latent_dim), torch.tensor([0, 2]), torch.tensor([0.6])
        w = G.mapping(z, c, psi, update_avg=False)
        via_w = G.synthesis(w.unsqueeze(1).repeat(1, G.num_ws, 1)).clamp(-1, 1)
        assert torch.allclose(via_w, G(z, c, psi), atol=1e-6)
