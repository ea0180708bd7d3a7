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


UNCONDITIONAL = ["dcgan32", "dcgan64", "mlpgan28", "sngan32", "stylegan2_32", "stylegan2_ada"]


@pytest.mark.parametrize("name", UNCONDITIONAL + ["dcgan32_minilm"])
def test_every_architecture_trains_with_a_projected_discriminator(name, tmp_path):
    from zoo.exporting.testing import tiny_config
    from zoo.training.checkpoint import load_checkpoint

    spec_data = "builtin:shapes"
    model = zoo.train(
        name,
        spec_data,
        tmp_path / "run",
        config=tiny_config(name),
        steps=1,
        batch_size=2,
        discriminator="projected",
        d_input_size=32,
        sample_every=1000,
        checkpoint_every=1000,
        eval_samples=0,
        progress=False,
    )
    assert isinstance(model.discriminator, ProjectedDiscriminator) and model.discriminator.size == 32
    recipe = load_checkpoint(tmp_path / "run")[1]["recipe"]
    assert recipe["discriminator"] == "projected"
    assert recipe["loss"] == "hinge" and recipe["augment"] == "diffaug"  # the paper's loss and augmentation
    assert isinstance(zoo.load(tmp_path / "run").discriminator, ProjectedDiscriminator)


def test_finetune_and_resume_with_a_projected_discriminator(tmp_path):
    torch.manual_seed(0)
    source = zoo.save(zoo.create_model("dcgan32", channels=1, width=8), tmp_path / "source.safetensors")
    options = dict(
        batch_size=2,
        discriminator="projected",
        d_input_size=32,
        sample_every=1000,
        checkpoint_every=1,
        eval_samples=0,
        progress=False,
    )
    straight = zoo.finetune(str(source), "builtin:digits", tmp_path / "straight", steps=2, **options)
    assert isinstance(straight.discriminator, ProjectedDiscriminator)
    assert straight.discriminator.diffaug is False  # the run's DiffAugment (checkpointed) runs before D
    zoo.finetune(str(source), "builtin:digits", tmp_path / "halted", steps=1, **options)
    resumed = zoo.finetune(resume=tmp_path / "halted", steps=2, progress=False)
    assert isinstance(resumed.discriminator, ProjectedDiscriminator)
    for key, value in straight.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key
    with pytest.raises(ValueError, match="cannot change discriminator"):
        zoo.finetune(resume=tmp_path / "halted", steps=3, discriminator="own", progress=False)


def test_projected_and_d_backbone_together_are_refused(tmp_path):
    with pytest.raises(ValueError, match="choose one"):
        zoo.train(
            "dcgan32",
            "builtin:shapes",
            tmp_path / "run",
            steps=1,
            discriminator="projected",
            d_backbone="timm:tf_efficientnet_lite0",
            progress=False,
        )
    assert not (tmp_path / "run" / "model.safetensors").exists()


def test_cli_discriminator_projected(tmp_path):
    from click.testing import CliRunner

    from zoo.cli import main

    res = CliRunner().invoke(
        main,
        [
            "train",
            "dcgan32",
            "--data",
            "builtin:shapes",
            "--out",
            str(tmp_path / "r"),
            "--config",
            "width=8",
            "--steps",
            "1",
            "--batch",
            "2",
            "--discriminator",
            "projected",
            "--d-input-size",
            "32",
            "--eval-samples",
            "0",
            "--no-progress",
        ],
    )
    assert res.exit_code == 0, res.output
    assert isinstance(zoo.load(tmp_path / "r").discriminator, ProjectedDiscriminator)


def test_resumed_training_with_a_projected_discriminator_is_bit_identical(tmp_path):
    options = dict(
        config=dict(width=8),
        batch_size=2,
        discriminator="projected",
        d_input_size=32,
        sample_every=1000,
        checkpoint_every=1,
        eval_samples=0,
        progress=False,
    )
    straight = zoo.train("dcgan32", "builtin:shapes", tmp_path / "straight", steps=2, **options)
    zoo.train("dcgan32", "builtin:shapes", tmp_path / "halted", steps=1, **options)
    resumed = zoo.train(resume=tmp_path / "halted", steps=2, progress=False)
    for key, value in straight.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key
