"""Everything else works on an imported model: fine-tuning uses the imported D and starts ADA from
the imported p; export keeps a dynamic batch, truncation as an input and passes its parity gate;
zoo_runtime generates the same pixels as `zoo sample`."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from import_helpers import image_folder, nvlabs_parts, write_nvlabs_pickle
from PIL import Image

import zoo
import zoo_runtime
from zoo.images import to_uint8


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    root = tmp_path_factory.mktemp("imported")
    g_kwargs, d_kwargs, g, d, _ = nvlabs_parts("nvlabs_32_cond")
    write_nvlabs_pickle(root / "cond32.pkl", g_kwargs, d_kwargs, g, d, augment_p=0.375)
    zoo.import_checkpoint(root / "cond32.pkl", root / "cond32.safetensors")
    return root / "cond32.safetensors"


@pytest.mark.slow  # 30 s on 2 cores; .ci/run runs the slow tests too
def test_finetune_uses_the_imported_discriminator_and_ada_p(imported, tmp_path):
    from zoo.training.api import finetune_trainer
    from zoo.training.recipe import finetune_recipe

    source = zoo.load(imported)
    data = image_folder(tmp_path / "data")
    recipe = finetune_recipe(
        steps=2, batch_size=4, augment="ada", freeze_d=1, sample_every=100, checkpoint_every=100, log_every=1
    )
    trainer = finetune_trainer(str(imported), str(data), tmp_path / "run", recipe, progress=False, log=lambda *a: None)
    assert trainer.augment.p == pytest.approx(0.375)
    for name, tensor in source.discriminator.state_dict().items():
        assert torch.equal(trainer.D.state_dict()[name], tensor), name
    assert not any(p.requires_grad for p in trainer.D.blocks[0].parameters())  # FreezeD on the imported D
    model = trainer.fit()
    assert (tmp_path / "run" / "model.safetensors").exists()
    assert model.sample(2, seed=0, labels=[0, 1]).shape == (2, 3, 32, 32)


@pytest.mark.slow  # slow: 11 s; the R3GAN import's export test covers the same path in the default run
def test_export_and_runtime(imported, tmp_path):
    from zoo.exporting import export

    pkg = export(str(imported), tmp_path / "pkg", progress=False, quality_n=16, calibration_n=16)
    manifest = json.loads((pkg / "manifest.json").read_text())
    assert manifest["parity"]["passed"] and manifest["parity"]["float_max_abs"] <= 1e-4
    inputs = {i["name"]: i for i in manifest["inputs"]}
    assert set(inputs) == {"z", "labels", "truncation"}
    assert inputs["z"]["shape"][0] == "batch" and manifest["truncation"] is True
    gen = zoo_runtime.load(pkg, providers="cpu")
    model = zoo.load(imported)
    for n in (1, 3):
        images = gen.generate(n, seed=4, labels=[2] * n, truncation=0.7)
        expected = to_uint8(model.sample(n, seed=4, labels=[2] * n, truncation=0.7))
        assert np.abs(images.astype(np.int16) - expected).max() <= 1
    out = tmp_path / "grid.png"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "zoo_runtime",
            str(pkg),
            "-n",
            "4",
            "--label",
            "1",
            "--truncation",
            "0.7",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert Image.open(out).size[0] >= 64  # a 2x2 grid of 32 px images (with padding)
