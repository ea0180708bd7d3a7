"""Projected GAN discriminator: structure, frozen parts, gradients to G, saving and rebuilding."""
import pytest
import torch

import zoo
from zoo.archs.projected_discriminator import ProjectedDiscriminator, use_projected_discriminator


@pytest.fixture(scope="module")
def disc():
    return ProjectedDiscriminator({"channels": 3, "resolution": 32}, size=64, width=8, head_width=8)


def test_four_scales_frozen_backbone_and_projection(disc):
    assert len(disc.blocks) == 4 and disc.projection.out_channels == [8, 16, 32, 64]
    trainable = {n.split(".")[0] for n, p in disc.named_parameters() if p.requires_grad}
    assert trainable == {"blocks"}  # backbone and random CCM/CSM never train
    disc.train()
    assert not disc.backbone.training  # its batch-norm statistics stay ImageNet's
    out = disc(torch.rand(2, 3, 32, 32) * 2 - 1)
    # per-scale logit maps at 64 px: features 16, 8, 4, 2 -> 5x5, 5x5, 1x1, 2x2 logits
    assert out.shape == (2, 25 + 25 + 1 + 4)


def test_gradient_reaches_the_images_and_the_heads(disc):
    disc.train()
    x = (torch.rand(2, 3, 32, 32) * 2 - 1).requires_grad_(True)
    disc(x).mean().backward()
    assert x.grad.abs().sum() > 0
    assert all(p.grad is not None for p in disc.blocks.parameters())
    assert all(p.grad is None for p in disc.projection.parameters())


def test_uses_imagenet_features_not_random(disc):
    from zoo.metrics.imagenet_backbone import imagenet_model

    ref = imagenet_model(features_only=True, out_indices=(1, 2, 3, 4))
    for a, b in zip(disc.backbone.state_dict().values(), ref.state_dict().values()):
        assert torch.equal(a, b)


def test_saved_and_rebuilt_by_zoo_load(tmp_path):
    model = zoo.create_model("dcgan32", channels=1, conditioning="class", num_classes=10, width=8)
    use_projected_discriminator(model, size=64, width=8, head_width=8)
    model.discriminator.eval()
    x, c = torch.rand(3, 1, 32, 32) * 2 - 1, torch.tensor([1, 2, 3])
    before = model.discriminator(x, c)
    path = zoo.save(model, tmp_path / "m.safetensors")
    loaded = zoo.load(path)
    assert isinstance(loaded.discriminator, ProjectedDiscriminator) and loaded.discriminator.size == 64
    assert loaded.metadata["discriminator"] == "projected"
    assert torch.allclose(loaded.discriminator(x, c), before, atol=1e-5)  # random projections and heads restored
    with pytest.raises(ValueError, match="conditional"):
        loaded.discriminator(x)
