"""Shared test setup: every test session gets its own, empty gan-zoo cache."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import pytest

# Set before anything imports the zoo, so no test reads or writes the user's real cache; removed at
# exit (only when this file made it), so test runs do not pile up folders in /tmp.
if "GAN_ZOO_HOME" not in os.environ:
    os.environ["GAN_ZOO_HOME"] = _session_home = tempfile.mkdtemp(prefix="gan-zoo-test-home-")
    atexit.register(shutil.rmtree, _session_home, ignore_errors=True)


@pytest.fixture
def zoo_home(tmp_path, monkeypatch):
    """A fresh, private GAN_ZOO_HOME for tests that inspect the cache."""
    home = tmp_path / "zoo-home"
    monkeypatch.setenv("GAN_ZOO_HOME", str(home))
    return home


@pytest.fixture
def one_torch_thread():
    """Tiny models run fastest (and deterministically) on one torch thread: on a shared 2-core
    machine, OpenMP threads spin-wait and steal the cores from each other."""
    import torch  # here, not at the top: the runtime's tests must be able to run without torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
