"""An imported R3GAN works like any zoo model: fine-tuning starts from the imported G and D, export
passes its parity gate, and zoo_runtime generates the pixels `zoo sample` does."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from import_helpers import image_folder
from r3gan_helpers import write_r3gan_pickle

import zoo
import zoo_runtime
from zoo.images import to_uint8


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    root = tmp_path_factory.mktemp("r3gan")
    write_r3gan_pickle(root / "cifar10.pkl", "r3gan_32_cond")
    zoo.import_checkpoint(root / "cifar10.pkl", root / "cifar10.safetensors")
    return root / "cifar10.safetensors"


def test_finetune_starts_from_the_imported_networks(imported, tmp_path):
    from zoo.training.api import finetune_trainer
    from zoo.training.recipe import finetune_recipe

    source = zoo.load(imported)
    data = image_folder(tmp_path / "data")
    recipe = finetune_recipe(steps=2, batch_size=4, sample_every=100, checkpoint_every=100, log_every=1, eval_samples=0)
    trainer = finetune_trainer(str(imported), str(data), tmp_path / "run", recipe, progress=False, log=lambda *a: None)
    for name, tensor in source.discriminator.state_dict().items():
        assert torch.equal(trainer.D.state_dict()[name], tensor), name
    for name, tensor in source.generator.state_dict().items():
        assert torch.equal(trainer.G.state_dict()[name], tensor), name
    model = trainer.fit()
    assert (tmp_path / "run" / "model.safetensors").exists()
    changed = [
        k for k, v in model.generator.state_dict().items() if not torch.equal(v, source.generator.state_dict()[k])
    ]
    assert changed, "two fine-tuning steps changed nothing"
    assert model.sample(2, seed=0, labels=[0, 1]).shape == (2, 3, 32, 32)  # the data's two classes


def test_export_and_runtime(imported, tmp_path):
    from zoo.exporting import export

    pkg = export(str(imported), tmp_path / "pkg", progress=False, quality_n=16, calibration_n=16)
    manifest = json.loads((pkg / "manifest.json").read_text())
    assert manifest["parity"]["passed"] and manifest["parity"]["float_max_abs"] <= 1e-4
    assert {i["name"] for i in manifest["inputs"]} >= {"z", "labels"}
    gen = zoo_runtime.load(pkg, providers="cpu")
    model = zoo.load(imported)
    for n in (1, 3):
        images = gen.generate(n, seed=4, labels=[2] * n)
        expected = to_uint8(model.sample(n, seed=4, labels=[2] * n))
        assert np.abs(images.astype(np.int16) - expected).max() <= 1
