"""Runtime tests: tiny packages exported once per session (shared with tests/export through
zoo.exporting.testing.cached_export), then run with zoo_runtime as an application would."""

from __future__ import annotations

import warnings

import pytest


@pytest.fixture(scope="session")
def package(tmp_path_factory):
    """package(name, precision="fp32", format="onnx", **config) -> (path, GAN), tiny configs, cached."""
    from zoo.exporting.testing import cached_export

    root = tmp_path_factory.getbasetemp() / "zoo-export-packages"

    def make(name: str, precision: str = "fp32", format: str = "onnx", **config):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return cached_export(root, name, precision=precision, format=format, **config)

    return make


@pytest.fixture(scope="session")
def uncond(package):
    return package("dcgan32")


@pytest.fixture(scope="session")
def classcond(package):
    return package("dcgan32", conditioning="class", num_classes=10)


@pytest.fixture(scope="session")
def textcond(package):
    return package("dcgan32", conditioning="text", text_dim=256, text_encoder="hash")
