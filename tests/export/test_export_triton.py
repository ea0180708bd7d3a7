"""--format triton: a Triton Inference Server model repository (structure and config.pbtxt)."""

from __future__ import annotations

import re

import onnx

import zoo_runtime
from zoo.exporting.triton import config_pbtxt


def test_triton_repository_layout_and_config(package):
    model_dir, model = package("dcgan32", format="triton", conditioning="class", num_classes=10)
    repo = model_dir.parent
    assert model_dir.name == "dcgan32" and [p.name for p in repo.iterdir()] == ["dcgan32"]
    assert (model_dir / "1" / "model.onnx").is_file() and (model_dir / "config.pbtxt").is_file()
    onnx.checker.check_model(onnx.load(model_dir / "1" / "model.onnx"))
    cfg = (model_dir / "config.pbtxt").read_text()
    assert 'name: "dcgan32"' in cfg and 'backend: "onnxruntime"' in cfg
    assert re.search(r"max_batch_size: 256\b", cfg)
    assert "dynamic_batching {" in cfg and "max_queue_delay_microseconds" in cfg
    z = re.search(r'name: "z"\s+data_type: TYPE_FP32\s+dims: \[ 128 \]', cfg)
    labels = re.search(r'name: "labels"\s+data_type: TYPE_INT64\s+dims: \[ 1 \]\s+reshape: \{ shape: \[ \] \}', cfg)
    images = re.search(r'name: "images"\s+data_type: TYPE_UINT8\s+dims: \[ 32, 32, 3 \]', cfg)
    assert z and labels and images, cfg
    assert cfg.count("{") == cfg.count("}")
    # the same folder is a model package too (manifest points at 1/model.onnx)
    gen = zoo_runtime.load(model_dir, providers="cpu")
    assert gen.manifest["graph"] == "1/model.onnx" and gen.generate(2, seed=0, labels=3).shape == (2, 32, 32, 3)


def test_config_for_truncation_and_names():
    inputs = [
        {"name": "z", "dtype": "float32", "shape": ["batch", 64]},
        {"name": "truncation", "dtype": "float32", "shape": ["batch"]},
    ]
    outputs = [{"name": "images", "dtype": "uint8", "shape": ["batch", 64, 64, 1]}]
    cfg = config_pbtxt("stylegan2_64_shapes", inputs, outputs, max_batch_size=32)
    assert "max_batch_size: 32" in cfg and "preferred_batch_size: [ 8, 16, 32 ]" in cfg
    assert re.search(r'name: "truncation"\s+data_type: TYPE_FP32\s+dims: \[ 1 \]\s+reshape', cfg)
