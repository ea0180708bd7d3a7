"""Fixtures for the training tests: tiny models (width 8) and a source weights file to fine-tune."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

TINY = dict(width=8, channels=1)
FAST = dict(batch_size=8, sample_every=2, checkpoint_every=2, log_every=2, eval_samples=0, progress=False)


@pytest.fixture(scope="session")
def source_file(tmp_path_factory) -> str:
    """An unconditional 1-channel dcgan32 (width 8) saved as a gan-zoo weights file."""
    import zoo

    torch.manual_seed(0)
    model = zoo.create_model("dcgan32", **TINY)
    path = tmp_path_factory.mktemp("source") / "source.safetensors"
    zoo.save(model, path, dataset="test:random-init")
    return str(path)


def run_zoo(
    *args: str, env: dict | None = None, timeout: float = 120, check: bool = True
) -> subprocess.CompletedProcess:
    """`python -m zoo ARGS` in a real subprocess (one thread: fast and deterministic on CPU)."""
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "zoo", *args], capture_output=True, text=True, env=full_env, timeout=timeout
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"zoo {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture
def zoo_cli():
    """Run the real `zoo` command line in a subprocess: zoo_cli("train", ...)."""
    return run_zoo


@pytest.fixture(autouse=True)
def one_thread(one_torch_thread):
    yield
