"""The plugin zoo-minilm registers `dcgan32_minilm` through its `gan_zoo.models` entry point and ships
the pretrained `dcgan32_minilm.shapes` as package data: listing, sha256-verified loading, prompts,
the wheel carrying the weights, and the runtime giving zoo sample's pixels."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

import zoo
from zoo.images import to_uint8

zoo_minilm = pytest.importorskip("zoo_minilm", reason="plugins/zoo-minilm is not installed")

PLUGIN = Path(__file__).resolve().parents[2] / "plugins" / "zoo-minilm"
PROMPT = "a small red circle on a blue background"
# through the registry (which imports zoo_minilm.models as the plugin's entry point), not by importing it here
SPEC = zoo.registry.get_spec("dcgan32_minilm")
shipped = pytest.mark.skipif("shapes" not in SPEC.pretrained, reason="dcgan32_minilm.shapes not shipped yet")


def test_registered_through_the_plugins_entry_point():
    spec = zoo.registry.get_spec("dcgan32_minilm")
    assert spec.source == "zoo-minilm" and spec.module == "zoo_minilm.models" and spec.family == "dcgan"
    cfg = spec.default_config
    assert (cfg["conditioning"], cfg["text_encoder"], cfg["text_dim"]) == ("text", "minilm", 384)
    assert set(cfg) == set(zoo.registry.get_spec("dcgan32").default_config), "the dcgan32 builder, same keys"
    assert "dcgan32_minilm" in zoo.list_models(conditioning="text")
    status = [
        p for p in zoo.registry.plugin_statuses() if p.group == "gan_zoo.models" and p.distribution == "zoo-minilm"
    ]
    assert [s.status for s in status] == ["loaded"], status
    model = zoo.create_model("dcgan32_minilm", width=8)
    assert model.sample(2, seed=0, embeddings=torch.zeros(2, 384)).shape == (2, 3, 32, 32)


@shipped
def test_pretrained_tag_lists_loads_verified_and_follows_prompts():
    assert "dcgan32_minilm.shapes" in zoo.list_models(pretrained=True)
    row = zoo.registry.model_infos("dcgan32_minilm.shapes", pretrained=True)[0]
    assert row["source"] == "zoo-minilm" and row["conditioning"] == "text"
    source = zoo.registry.get_spec("dcgan32_minilm").pretrained["shapes"]
    path = Path(source.url)
    assert path.parent == Path(zoo_minilm.__file__).parent / "weights", "package data of the plugin"
    assert (path.parent / "dcgan32_minilm.shapes.md").exists(), "model card beside the weights"
    model = zoo.create_model("dcgan32_minilm.shapes", pretrained=True)  # sha256 verified by fetch
    assert model.tag == "shapes" and model.config["text_encoder"] == "minilm"
    a = model.sample(4, seed=0, prompts=PROMPT)
    assert torch.equal(a, model.sample(4, seed=0, prompts=[PROMPT] * 4))
    # it draws what captions say, well above chance (shape 1/3, colour 1/6; card: shape .67, colour .82)
    from zoo.metrics.text_alignment import text_alignment

    seen = text_alignment(model, n=60, baseline=False, progress=False)["results"]["model"]["seen"]
    assert seen["shape"] >= 0.5 and seen["colour"] >= 0.6 and seen["size"] >= 0.7, seen


@shipped
def test_wheel_carries_the_weights_and_the_card(tmp_path):
    """The pyproject's package-data: a wheel built as a user would build it contains both files."""
    import shutil

    src, out = tmp_path / "src", tmp_path / "wheel"  # a copy: setuptools writes build/ into the source tree
    shutil.copytree(PLUGIN, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(src)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    (wheel,) = out.glob("zoo_minilm-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for f in (
        "zoo_minilm/weights/dcgan32_minilm.shapes.safetensors",
        "zoo_minilm/weights/dcgan32_minilm.shapes.md",
        "zoo_minilm/models.py",
    ):
        assert f in names, names
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "[gan_zoo.models]" in entry_points and "zoo_minilm.models" in entry_points


@pytest.mark.slow  # ~20 s of CPU (MiniLM graph, 96 MB package); the default run covers the same path with
@shipped  # a tiny dcgan32_minilm (tests/export) and a tiny minilm model (test_text_model.py)
def test_export_and_runtime_match_zoo_sample(tmp_path):
    import zoo_runtime

    model = zoo.create_model("dcgan32_minilm.shapes", pretrained=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pkg = zoo.export(model, tmp_path / "pkg", progress=False)
    manifest = json.loads((pkg / "manifest.json").read_text())
    assert manifest["model"]["name"] == "dcgan32_minilm.shapes" and manifest["text_encoder"]["name"] == "minilm"
    gen = zoo_runtime.load(pkg, providers="cpu")
    prompts = [PROMPT, "a large yellow square on a gray background", "a small red triangle on a white background"]
    got = gen.generate(prompts=prompts, seed=3)
    expected = to_uint8(model.sample(3, seed=3, prompts=prompts))
    assert np.abs(got.astype(np.int16) - expected).max() <= 1


@shipped
def test_cli_list_and_sample(tmp_path):
    from click.testing import CliRunner

    from zoo.cli import main

    listing = CliRunner().invoke(main, ["list", "--pretrained", "--json"])
    assert listing.exit_code == 0, listing.output
    rows = {r["name"]: r for r in json.loads(listing.output)}
    assert rows["dcgan32_minilm.shapes"]["source"] == "zoo-minilm"
    grid = tmp_path / "grid.png"
    run = CliRunner().invoke(
        main, ["sample", "dcgan32_minilm.shapes", "--prompt", PROMPT, "-n", "4", "--out", str(grid)]
    )
    assert run.exit_code == 0, run.output
    from PIL import Image

    assert Image.open(grid).size[0] >= 64
