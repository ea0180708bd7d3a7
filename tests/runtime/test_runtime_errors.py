"""Bad input gets a ValueError that says what was expected."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import zoo_runtime
from zoo_runtime.package import PackageError


@pytest.fixture
def copy_of(tmp_path):
    def copy(path):
        dst = tmp_path / "pkg"
        shutil.copytree(path, dst)
        return dst

    return copy


def test_missing_and_altered_files(uncond, copy_of, tmp_path):
    path, _ = uncond
    pkg = copy_of(path)
    with open(pkg / "generator.onnx", "r+b") as f:  # flip one byte
        f.seek(100)
        byte = f.read(1)
        f.seek(100)
        f.write(bytes([byte[0] ^ 1]))
    with pytest.raises(ValueError, match=r"generator.onnx was altered: sha256 .* re-export"):
        zoo_runtime.load(pkg)
    (pkg / "generator.onnx").unlink()
    with pytest.raises(ValueError, match="missing generator.onnx"):
        zoo_runtime.load(pkg)
    with pytest.raises(ValueError, match="not a model package folder"):
        zoo_runtime.load(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(PackageError, match="no manifest.json"):
        zoo_runtime.load(tmp_path / "empty")


def test_unknown_schema(uncond, copy_of):
    path, _ = uncond
    pkg = copy_of(path)
    manifest = json.loads((pkg / "manifest.json").read_text())
    manifest["schema_version"] = 99
    (pkg / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=r"schema version 99.*reads versions \[1\].*upgrade zoo-runtime"):
        zoo_runtime.load(pkg)
    manifest["schema"] = "something-else"
    (pkg / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="not a gan-zoo model package manifest"):
        zoo_runtime.load(pkg)
    (pkg / "manifest.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        zoo_runtime.load(pkg)


def test_bad_generate_arguments(uncond, classcond, textcond):
    gen = zoo_runtime.load(uncond[0], providers="cpu")
    cases = [
        (dict(n=0), r"n must be a positive integer, got 0"),
        (dict(n=-3), r"n must be a positive integer"),
        (dict(n=2.5), r"n must be a positive integer"),
        (dict(n=2, z=np.zeros((3, 128), np.float32)), r"z must be float32 \[2, 128\].*got shape \[3, 128\]"),
        (dict(z=np.zeros((2, 64), np.float32)), r"z must be float32 \[2, 128\]"),
        (dict(z=np.zeros((2, 128), np.float64)), r"z must be float32 .*got float64"),
        (dict(z=[[0.0] * 128]), r"z must be a numpy float32 array"),
        (dict(z=np.full((1, 128), np.nan, np.float32)), r"NaN"),
        (dict(prompts="a red circle"), r"unconditional; it takes no prompts"),
        (dict(labels=3), r"unconditional; it takes no labels"),
        (dict(truncation=0.5), r"no truncation trick; truncation must be 1.0"),
        (dict(n=2, seed=-1), r"seed must be a non-negative integer"),
        (dict(n=2, seed=1.5), r"seed must be a non-negative integer"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            gen.generate(**kwargs)

    cgen = zoo_runtime.load(classcond[0], providers="cpu")
    for labels, message in (
        (10, r"labels must be in \[0, 9\].*got \[10\]"),
        ([-1, 2], r"got \[-1\]"),
        ([1, 2, 3], r"got 3 labels for n=2"),
        (["a"], "labels must be integers"),
    ):
        with pytest.raises(ValueError, match=message):
            cgen.generate(2, labels=labels)
    with pytest.raises(ValueError, match="class-conditional: pass labels=, not prompts"):
        cgen.generate(2, prompts="a seven")

    tgen = zoo_runtime.load(textcond[0], providers="cpu")
    with pytest.raises(ValueError, match="text-conditional: pass prompts"):
        tgen.generate(2)
    with pytest.raises(ValueError, match=r"embeddings must be float32 \[2, 256\]"):
        tgen.generate(2, embeddings=np.zeros((2, 8), np.float32))
    with pytest.raises(ValueError, match="not labels"):
        tgen.generate(2, labels=1)
    with pytest.raises(ValueError, match="got 3 prompts for n=2"):
        tgen.generate(2, prompts=["a", "b", "c"])


def test_bad_load_arguments(uncond):
    with pytest.raises(ValueError, match="unknown provider 'gpu'"):
        zoo_runtime.load(uncond[0], providers="gpu")
    with pytest.raises(ValueError, match="chunk_size"):
        zoo_runtime.load(uncond[0], chunk_size=0)
    with pytest.raises(ValueError, match="max_batch"):
        zoo_runtime.load(uncond[0], providers="cpu", max_batch=0, max_delay_ms=1).close() if False else __import__(
            "zoo_runtime.batching", fromlist=["Batcher"]
        ).Batcher(lambda f: f, 0)
