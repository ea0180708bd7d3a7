"""Security tests: model packages, `--out` folders and generation inputs as untrusted input.

Packages are tiny real exports (zoo.exporting.testing.cached_export, shared with tests/runtime and
tests/export); tests tamper with copies of them."""

from __future__ import annotations

import hashlib
import json
import shutil
import warnings
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def package(tmp_path_factory):
    from zoo.exporting.testing import cached_export

    root = tmp_path_factory.getbasetemp() / "zoo-export-packages"

    def make(name: str, precision: str = "fp32", format: str = "onnx", **config):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return cached_export(root, name, precision=precision, format=format, **config)

    return make


@pytest.fixture(scope="session")
def uncond(package):
    return package("dcgan32")[0]


@pytest.fixture(scope="session")
def classcond(package):
    return package("dcgan32", conditioning="class", num_classes=10)[0]


@pytest.fixture(scope="session")
def textcond(package):
    return package("dcgan32", conditioning="text", text_dim=256, text_encoder="hash")[0]


def relist(pkg: Path, manifest: dict) -> dict:
    """`manifest` with `files` recomputed for what is in `pkg` now (an attacker can always do this)."""
    manifest["files"] = {
        p.relative_to(pkg).as_posix(): {"sha256": hashlib.sha256(p.read_bytes()).hexdigest(), "bytes": p.stat().st_size}
        for p in sorted(pkg.rglob("*"))
        if p.is_file() and p.name != "manifest.json"
    }
    return manifest


@pytest.fixture
def tamper(tmp_path):
    """tamper(src, edit=None, relist_files=False) -> a copy of package `src` whose manifest `edit(manifest, pkg)`
    changed (in place); with relist_files, `files` is recomputed after the edit."""
    count = [0]

    def make(src: Path, edit=None, relist_files: bool = False) -> Path:
        count[0] += 1
        pkg = tmp_path / f"pkg{count[0]}"
        shutil.copytree(src, pkg)
        manifest = json.loads((pkg / "manifest.json").read_text())
        if edit is not None:
            edit(manifest, pkg)
        if relist_files:
            relist(pkg, manifest)
        (pkg / "manifest.json").write_text(json.dumps(manifest))
        return pkg

    return make
