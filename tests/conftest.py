"""Shared test setup: every test session gets its own, empty gan-zoo cache."""
from __future__ import annotations

import os
import tempfile

import pytest

# Set before anything imports the zoo, so no test reads or writes the user's real cache.
os.environ.setdefault("GAN_ZOO_HOME", tempfile.mkdtemp(prefix="gan-zoo-test-home-"))


@pytest.fixture
def zoo_home(tmp_path, monkeypatch):
    """A fresh, private GAN_ZOO_HOME for tests that inspect the cache."""
    home = tmp_path / "zoo-home"
    monkeypatch.setenv("GAN_ZOO_HOME", str(home))
    return home
