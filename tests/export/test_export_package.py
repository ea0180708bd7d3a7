"""The package on disk: manifest contents, sha256 of every file, atomic writes, the CLI."""

from __future__ import annotations

import json
import os

import onnx
import pytest
from click.testing import CliRunner

import zoo
from zoo.cli import main
from zoo_runtime.package import SCHEMA, SCHEMA_VERSION, read_manifest, sha256_file


def test_manifest_describes_the_package(package):
    path, model = package("dcgan32", conditioning="class", num_classes=10)
    m = read_manifest(path)  # also verifies every sha256
    assert m["schema"] == SCHEMA and m["schema_version"] == SCHEMA_VERSION
    assert m["model"]["arch"] == "dcgan32" and m["model"]["config"]["width"] == 8
    assert "parent" in m["model"]
    assert m["conditioning"] == {"kind": "class", "num_classes": 10, "text_dim": 0, "text_encoder": None}
    assert m["inputs"] == [
        {"name": "z", "dtype": "float32", "shape": ["batch", 128]},
        {"name": "labels", "dtype": "int64", "shape": ["batch"]},
    ]
    assert m["outputs"] == [{"name": "images", "dtype": "uint8", "shape": ["batch", 32, 32, 3]}]
    assert set(m["files"]) == {"generator.onnx"}
    assert m["files"]["generator.onnx"]["sha256"] == sha256_file(path / "generator.onnx")
    for key in ("torch", "onnx", "onnxruntime", "zoo", "zoo_runtime"):
        assert m["created_by"][key]
    assert m["cost"]["macs_per_image"] > 0 and m["opset"] == 18


def test_graph_is_checked_onnx_with_dynamic_batch_and_uint8_nhwc(package):
    path, _ = package("dcgan32")
    graph = onnx.load(path / "generator.onnx")
    onnx.checker.check_model(graph, full_check=True)
    out = graph.graph.output[0].type.tensor_type
    assert out.elem_type == onnx.TensorProto.UINT8
    assert out.shape.dim[0].dim_param == "batch"
    assert [d.dim_value for d in out.shape.dim[1:]] == [32, 32, 3]
    ops = {n.op_type for n in graph.graph.node}
    assert not ops & {"RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike"}  # z is an input


def test_failed_export_leaves_nothing_and_keeps_the_old_package(package, tmp_path, monkeypatch):
    import shutil

    from zoo.exporting import verify

    cached, _ = package("mlpgan28")
    out = tmp_path / "pkg"
    shutil.copytree(cached, out)
    before = sha256_file(out / "generator.onnx")
    monkeypatch.setitem(verify.TOLERANCES, "fp32", {"float_max_abs": -1.0})  # nothing can pass
    with pytest.raises(zoo.exporting.ExportError, match="does not match PyTorch"):
        zoo.export(zoo.create_model("mlpgan28", hidden=[32, 64]), out, progress=False, overwrite=True)
    assert sha256_file(out / "generator.onnx") == before  # the old package is untouched
    assert sorted(os.listdir(tmp_path)) == ["pkg"]  # no temporary folders left behind


def test_export_replaces_a_package_but_refuses_other_folders(tmp_path):
    model = zoo.create_model("mlpgan28", hidden=[16, 32])
    precious = tmp_path / "notes"
    precious.mkdir()
    (precious / "thesis.txt").write_text("do not delete")
    with pytest.raises(ValueError, match="not a model package"):
        zoo.export(model, precious, progress=False)
    assert (precious / "thesis.txt").read_text() == "do not delete"
    with pytest.raises(ValueError, match="precision"):
        zoo.export(model, tmp_path / "x", precision="int4")
    with pytest.raises(ValueError, match="opset"):
        zoo.export(model, tmp_path / "x", opset=13)


def test_export_removes_what_a_killed_export_left_behind(tmp_path):
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".pkg.tmp-{int(dead.stdout)}-0123abcd"  # a kill -9 mid-export leaves this
    stale.mkdir()
    (stale / "generator.onnx").write_bytes(b"half")
    running = tmp_path / f".pkg.tmp-{os.getpid()}-4567ef01"  # another export, still running: not touched
    running.mkdir()
    zoo.export(zoo.create_model("mlpgan28", hidden=[16, 32]), tmp_path / "pkg", progress=False)
    assert sorted(os.listdir(tmp_path)) == [running.name, "pkg"]


@pytest.mark.filterwarnings("ignore:mlpgan28 is an architecture without weights")
def test_cli_export_then_generate(tmp_path):
    runner = CliRunner()
    out = tmp_path / "pkg"
    result = runner.invoke(
        main, ["export", "mlpgan28", "--out", str(out), "--config", "hidden=[16,32]", "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert "float max |onnx - torch|" in result.output and (out / "manifest.json").exists()
    result = runner.invoke(main, ["export", "mlpgan28", "--out", str(out), "--config", "hidden=[16,32]", "--json"])
    assert result.exit_code != 0 and "pass --overwrite" in result.output  # an earlier export: replaced only on request
    result = runner.invoke(
        main, ["export", "mlpgan28", "--out", str(out), "--config", "hidden=[16,32]", "--json", "--overwrite"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output[result.output.index("{") :])
    assert data["parity"]["passed"] and data["model"]["arch"] == "mlpgan28"

    png = tmp_path / "grid.png"
    result = runner.invoke(main, ["generate", str(out), "-n", "4", "--seed", "1", "--out", str(png)])
    assert result.exit_code == 0, result.output
    from PIL import Image

    with Image.open(png) as im:
        assert im.size == (2 + 2 * 30, 2 + 2 * 30) and im.mode == "L"  # 2x2 grid of 28x28 with 2px borders


@pytest.mark.filterwarnings("ignore:mlpgan28 is an architecture without weights")
def test_cli_int8_export_json_is_only_the_manifest(tmp_path):
    """The int8 calibrator's own progress lines stay off stdout, where --json writes the manifest."""
    out = tmp_path / "pkg"
    args = ["export", "mlpgan28", "--out", str(out), "--config", "hidden=[16,32]", "--precision", "int8", "--json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["precision"] == "int8" and " calibration" in data["quantization"]["method"]


def test_cli_export_bad_name_is_one_clear_line(tmp_path):
    result = CliRunner().invoke(main, ["export", "dcgan33", "--out", str(tmp_path / "p")])
    assert result.exit_code != 0
    assert "unknown model" in result.output and "Traceback" not in result.output
