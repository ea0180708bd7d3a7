"""Export tests: packages are exported once per session (zoo.exporting.testing.cached_export)."""

from __future__ import annotations

import warnings

import pytest


@pytest.fixture(scope="session")
def export_root(tmp_path_factory):
    return tmp_path_factory.getbasetemp() / "zoo-export-packages"


@pytest.fixture(scope="session")
def package(export_root):
    """package(name, precision="fp32", format="onnx", **config) -> (path, GAN), tiny configs, cached."""
    from zoo.exporting.testing import cached_export

    def make(name: str, precision: str = "fp32", format: str = "onnx", **config):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return cached_export(export_root, name, precision=precision, format=format, **config)

    return make
