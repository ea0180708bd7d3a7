"""Pretrained-feature discriminators (zoo/archs/feature_discriminator.py) with a real, tiny timm model
(`test_resnet`, 0.47M parameters) whose weights the tests write themselves."""

from __future__ import annotations

import shutil

import pytest
import timm
import torch
from safetensors.torch import save_file

import zoo
from zoo.archs.feature_discriminator import FeatureBackboneError, FeatureDiscriminator, use_feature_discriminator
from zoo.training.checkpoint import load_checkpoint
from zoo.training.recipe import finetune_recipe
from zoo.training.transfer import blocks_to_freeze

BACKBONE = "timm:test_resnet"


@pytest.fixture(autouse=True)
def empty_hf_cache(tmp_path, monkeypatch):
    """A private, empty Hugging Face cache: what timm could find offline is only what a test puts there."""
    import huggingface_hub.constants

    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    return cache


@pytest.fixture
def weights(tmp_path):
    """A timm state dict written as a user would have it: `test_resnet` with known (seeded) weights."""
    torch.manual_seed(123)
    source = timm.create_model("test_resnet")
    path = tmp_path / "test_resnet.safetensors"
    save_file(source.state_dict(), str(path))
    return path, source.state_dict()


def small_gan(**config):
    return zoo.create_model("dcgan32", width=4, channels=1, **config)


def test_weights_file_loads_through_timm_and_stays_frozen(weights):
    path, expected = weights
    model = small_gan(conditioning="class", num_classes=3)
    disc = use_feature_discriminator(model, BACKBONE, str(path))
    assert model.discriminator is disc and model.metadata["d_backbone"] == BACKBONE
    for key, value in disc.backbone.state_dict().items():
        assert torch.equal(value, expected[key]), key  # the pretrained weights, not a fresh init
    assert not any(p.requires_grad for p in disc.backbone.parameters())
    disc.train()
    assert not disc.backbone.training and disc.blocks[0].training  # frozen BN statistics, trainable heads
    x = (torch.rand(4, 1, 32, 32) * 2 - 1).requires_grad_(True)
    logits = disc(x, torch.tensor([0, 1, 2, 0]))
    assert logits.shape == (4,)
    logits.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0  # R1 needs gradients through the backbone
    assert all(p.grad is None for p in disc.backbone.parameters())
    assert all(p.grad is not None for p in disc.blocks.parameters() if p.requires_grad)


def test_inputs_are_resized_and_normalised_for_the_backbone(weights):
    disc = use_feature_discriminator(small_gan(), BACKBONE, str(weights[0]))
    assert disc.size == 64  # 2 x the deepest stride (32): the last level is at least 2x2
    prepared = disc.prepare(torch.zeros(2, 1, 32, 32))  # mid-grey
    mean, std = (
        timm.create_model("test_resnet").pretrained_cfg["mean"],
        timm.create_model("test_resnet").pretrained_cfg["std"],
    )
    assert prepared.shape == (2, 3, 64, 64)
    assert torch.allclose(prepared[:, 0], torch.full((2, 64, 64), (0.5 - mean[0]) / std[0]), atol=1e-6)


def test_no_weights_available_is_a_clear_error():
    with pytest.raises(FeatureBackboneError, match="no pretrained weights for timm:test_resnet.*--d-backbone-weights"):
        use_feature_discriminator(small_gan(), BACKBONE, None)


def test_hf_cache_is_used_when_it_holds_the_model(weights, empty_hf_cache):
    path, expected = weights
    repo = timm.models.get_pretrained_cfg("test_resnet").hf_hub_id  # timm/test_resnet.r160_in1k
    folder = empty_hf_cache / f"models--{repo.replace('/', '--')}"
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text("0" * 40)
    snapshot = folder / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    shutil.copy(path, snapshot / "model.safetensors")
    disc = use_feature_discriminator(small_gan(), BACKBONE, None)
    key = next(iter(expected))
    assert torch.equal(disc.backbone.state_dict()[key], expected[key])


@pytest.mark.parametrize(
    "backbone, weights_name, match",
    [
        ("resnet18", None, "timm:NAME"),
        ("timm:not_a_model_at_all", None, "timm has no model"),
        (BACKBONE, "missing.safetensors", "not found"),
        (BACKBONE, "wrong", "does not fit"),
    ],
)
def test_bad_backbones_are_clear_errors(backbone, weights_name, match, tmp_path):
    weights = None
    if weights_name == "wrong":  # another model's state dict
        weights = tmp_path / "other.safetensors"
        save_file(timm.create_model("test_efficientnet").state_dict(), str(weights))
    elif weights_name:
        weights = tmp_path / weights_name
    with pytest.raises(FeatureBackboneError, match=match):
        use_feature_discriminator(small_gan(), backbone, weights)


def test_a_file_of_other_tensors_is_refused_not_silently_random(tmp_path):
    """timm's own loading only warns about tensors it does not know; the zoo refuses the file and says which."""
    gan_file = tmp_path / "gan.safetensors"
    zoo.save(small_gan(), gan_file)  # a real safetensors file, of a GAN rather than of test_resnet
    with pytest.raises(FeatureBackboneError, match=r"does not fit timm model 'test_resnet': missing \(\d+\): conv1"):
        use_feature_discriminator(small_gan(), BACKBONE, gan_file)


def test_a_pickle_backbone_file_is_refused_with_the_conversion(tmp_path):
    path = tmp_path / "test_resnet.pth"
    torch.save(timm.create_model("test_resnet").state_dict(), path)
    with pytest.raises(FeatureBackboneError, match=r"Pickle files are not opened.*st.save_file"):
        use_feature_discriminator(small_gan(), BACKBONE, path)


def test_a_truncated_backbone_file_is_a_clear_error(weights, tmp_path):
    path = tmp_path / "cut.safetensors"
    path.write_bytes(weights[0].read_bytes()[:5000])
    with pytest.raises(FeatureBackboneError, match="not a readable safetensors file"):
        use_feature_discriminator(small_gan(), BACKBONE, path)


def test_a_classifier_for_other_classes_is_fine(tmp_path):
    """Fine-tuned classifiers have their own head; only the backbone's tensors must fit."""
    torch.manual_seed(5)
    trained = timm.create_model("test_resnet", num_classes=3)
    path = tmp_path / "three_classes.safetensors"
    save_file(trained.state_dict(), str(path))
    disc = use_feature_discriminator(small_gan(), BACKBONE, path)
    assert torch.equal(disc.backbone.state_dict()["conv1.0.weight"], trained.state_dict()["conv1.0.weight"])


def test_saved_file_alone_rebuilds_the_feature_discriminator(weights, tmp_path):
    path, _ = weights
    model = small_gan(conditioning="class", num_classes=3)
    use_feature_discriminator(model, BACKBONE, str(path))
    saved = zoo.save(model, tmp_path / "model.safetensors")
    path.unlink()  # the backbone weights file is no longer needed: the model file holds them
    loaded = zoo.load(saved)
    assert isinstance(loaded.discriminator, FeatureDiscriminator) and loaded.metadata["d_backbone"] == BACKBONE
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key
    x, c = torch.rand(3, 1, 32, 32) * 2 - 1, torch.tensor([0, 1, 2])
    assert torch.equal(model.discriminator.eval()(x, c), loaded.discriminator.eval()(x, c))


def test_finetune_with_a_feature_discriminator(weights, tmp_path):
    source = zoo.save(small_gan(), tmp_path / "source.safetensors")
    tuned = zoo.finetune(
        str(source),
        "builtin:digits",
        tmp_path / "run",
        steps=2,
        batch_size=4,
        d_backbone=BACKBONE,
        d_backbone_weights=str(weights[0]),
        sample_every=1000,
        checkpoint_every=1000,
        eval_samples=0,
        progress=False,
    )
    assert isinstance(tuned.discriminator, FeatureDiscriminator)
    again = zoo.load(tmp_path / "run")
    assert isinstance(again.discriminator, FeatureDiscriminator)
    frozen = weights[1]
    for key, value in again.discriminator.backbone.state_dict().items():
        assert torch.equal(value, frozen[key]), key  # training never moved the backbone
    assert tuned.discriminator.new_heads is False  # trained now: a later fine-tuning may freeze them
    assert load_checkpoint(tmp_path / "run")[1]["recipe"]["freeze_d"] == 0  # new heads: nothing for FreezeD to keep


def test_freeze_d_freezes_the_first_heads_of_a_saved_feature_discriminator(weights, tmp_path):
    """FreezeD on a source saved with a feature D: K freezes its first K (trained) heads; the backbone,
    always frozen, is not counted. (It used to count the backbone as block 0: --freeze-d 1 did nothing.)"""
    model = small_gan()
    use_feature_discriminator(model, BACKBONE, str(weights[0]))
    source = zoo.save(model, tmp_path / "source.safetensors")
    loaded = zoo.load(source)
    assert loaded.discriminator.new_heads is False and len(loaded.discriminator.blocks) == 3
    assert [n for n, _ in blocks_to_freeze(loaded.discriminator, 1, "discriminator")] == ["blocks.0"]
    tuned = zoo.finetune(
        str(source),
        "builtin:digits",
        tmp_path / "run",
        steps=2,
        batch_size=4,
        freeze_d=1,
        lr=1e-2,
        sample_every=1000,
        checkpoint_every=1000,
        eval_samples=0,
        progress=False,
    )
    before = dict(loaded.discriminator.named_parameters())  # (spectral norm's power-iteration buffers always move)
    after = dict(tuned.discriminator.named_parameters())
    moved = {".".join(k.split(".")[:2]) for k in before if not torch.equal(before[k], after[k])}
    assert moved == {"blocks.1", "blocks.2"}  # head 0 frozen, heads 1-2 trained, the backbone never moves
    with pytest.raises(ValueError, match="has only 3 blocks"):
        zoo.finetune(str(source), "builtin:digits", tmp_path / "too_many", steps=1, freeze_d=4, progress=False)


def test_freeze_d_on_new_heads_is_a_clear_error(weights, tmp_path):
    source = zoo.save(small_gan(), tmp_path / "source.safetensors")
    assert finetune_recipe(d_backbone=BACKBONE).freeze_d == 0 and finetune_recipe().freeze_d == 1
    with pytest.raises(ValueError, match=r"--freeze-d 1 would pin .*new, untrained heads.*use --freeze-d 0"):
        zoo.finetune(
            str(source),
            "builtin:digits",
            tmp_path / "run",
            steps=1,
            batch_size=4,
            freeze_d=1,
            d_backbone=BACKBONE,
            d_backbone_weights=str(weights[0]),
            eval_samples=0,
            progress=False,
        )


def test_resuming_a_finetune_keeps_the_sources_feature_discriminator(weights, tmp_path):
    """The source file carries a feature D and the fine-tune command names no --d-backbone: the run's
    D is that feature D, and a resumed run must rebuild it from the checkpoint (not the model's own D),
    ending where an uninterrupted run ends."""
    model = small_gan()
    use_feature_discriminator(model, BACKBONE, str(weights[0]))
    source = zoo.save(model, tmp_path / "source.safetensors")
    weights[0].unlink()  # nothing but the checkpoint may be needed to resume
    options = dict(batch_size=4, freeze_d=0, sample_every=1000, checkpoint_every=2, eval_samples=0, progress=False)
    straight = zoo.finetune(str(source), "builtin:digits", tmp_path / "straight", steps=4, **options)
    zoo.finetune(str(source), "builtin:digits", tmp_path / "halted", steps=2, **options)
    resumed = zoo.finetune(resume=tmp_path / "halted", steps=4, progress=False)
    assert isinstance(resumed.discriminator, FeatureDiscriminator)
    for key, value in straight.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key
