"""`zoo import` / zoo.import_checkpoint end to end: reference-format files (built here from the
parity fixtures) -> zoo weights files with the reference's images, metadata and a working CLI."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from import_helpers import nvlabs_parts, write_nvlabs_pickle, write_rosinality_checkpoint

import zoo
from zoo.cli import main
from zoo.weights import read_metadata, sha256_file

TOL = 1e-4


@pytest.fixture(scope="module")
def nvlabs_pkl(tmp_path_factory):
    g_kwargs, d_kwargs, g, d, outputs = nvlabs_parts("nvlabs_32_cond")
    path = tmp_path_factory.mktemp("src") / "faces-cond.pkl"
    write_nvlabs_pickle(path, g_kwargs, d_kwargs, g, d, augment_p=0.375)
    return path, outputs


def _images(model, outputs, psi, c=None):
    G = model.generator.eval()
    with torch.no_grad():
        return G.synthesis(G.styles(outputs["z"], c, torch.tensor([psi])))


def test_nvlabs_pickle_imports_with_reference_images(nvlabs_pkl, tmp_path):
    src, outputs = nvlabs_pkl
    model = zoo.import_checkpoint(src, tmp_path / "faces.safetensors")
    for psi, key in ((1.0, "img_psi1"), (0.7, "img_psi07")):
        err = (_images(model, outputs, psi, outputs["labels"]) - outputs[key]).abs().max().item()
        assert err <= TOL, (key, err)
    meta = read_metadata(tmp_path / "faces.safetensors")
    assert meta["arch"] == "stylegan2_ada" and meta["source_format"] == "stylegan2-ada-pytorch pickle"
    assert meta["parent"] == f"faces-cond.pkl sha256:{sha256_file(src)}"
    assert (meta["resolution"], meta["labels"], meta["augment_p"], meta["dataset"]) == ("32", "5", "0.375", "faces.zip")
    assert meta["config"]["conv_clamp"] == 256 and meta["config"]["num_fp16_res"] == 4
    # the imported file is an ordinary zoo weights file
    again = zoo.load(tmp_path / "faces.safetensors")
    assert torch.equal(
        again.sample(2, seed=3, labels=[0, 4], truncation=0.7), model.sample(2, seed=3, labels=[0, 4], truncation=0.7)
    )


def test_rosinality_checkpoint_imports_with_reference_images(tmp_path):
    outputs = write_rosinality_checkpoint(tmp_path / "070000.pt")
    model = zoo.import_checkpoint(tmp_path / "070000.pt", tmp_path / "r.safetensors", name="my-faces")
    for psi, key in ((1.0, "img_psi1"), (0.7, "img_psi07")):
        assert (_images(model, outputs, psi) - outputs[key]).abs().max().item() <= TOL, key
    meta = model.metadata
    assert meta["source_format"] == "rosinality stylegan2-pytorch checkpoint" and meta["name"] == "my-faces"
    assert meta["augment_p"] == "0.125" and "notes" not in meta


def test_rosinality_without_discriminator_gets_a_fresh_one_and_says_so(tmp_path):
    write_rosinality_checkpoint(tmp_path / "g.pt", with_d=False)
    a = zoo.import_checkpoint(tmp_path / "g.pt", tmp_path / "a.safetensors")
    b = zoo.import_checkpoint(tmp_path / "g.pt", tmp_path / "b.safetensors")
    assert "no discriminator" in a.metadata["notes"]
    assert all(
        torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items()
    )  # the same file twice: same weights


def test_cli_import_info_sample(nvlabs_pkl, tmp_path):
    src, _ = nvlabs_pkl
    runner = CliRunner()
    out = tmp_path / "m.safetensors"
    result = runner.invoke(main, ["import", str(src), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["resolution"] == 32 and summary["labels"] == "5" and summary["params"].startswith("G ")
    info = runner.invoke(main, ["info", str(out)])
    assert info.exit_code == 0
    for text in ("stylegan2-ada-pytorch pickle", "resolution: 32", "labels: 5", "params: G", "augment_p: 0.375"):
        assert text in info.output, text
    png = tmp_path / "grid.png"
    sampled = runner.invoke(
        main, ["sample", str(out), "-n", "4", "--truncation", "0.7", "--label", "2", "--out", str(png)]
    )
    assert sampled.exit_code == 0, sampled.output
    from PIL import Image

    assert Image.open(png).size[0] >= 64
    again = runner.invoke(main, ["import", str(src), "--out", str(out)])
    assert again.exit_code == 1 and "exists" in again.output and "--overwrite" in again.output


def test_import_help_shows_defaults():
    result = CliRunner().invoke(main, ["import", "--help"])
    assert result.exit_code == 0 and "--out" in result.output and "default" in result.output
