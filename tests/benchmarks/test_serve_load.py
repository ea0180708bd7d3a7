"""benchmarks/serve_load.py for real but tiny: a few clients for a second against the real server."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

pytest.importorskip("uvicorn")
SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "serve_load.py"


@pytest.fixture(scope="module")
def tiny_package(tmp_path_factory):
    from zoo.exporting.testing import cached_export

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cached_export(tmp_path_factory.mktemp("pkgs"), "dcgan32")[0]


def test_short_load_run_both_modes(tiny_package, tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--package",
            str(tiny_package),
            "--clients",
            "4",
            "--duration",
            "1.5",
            "--warmup",
            "0.5",
            "--max-batch",
            "4",
            "--seeds",
            "4",
            "--out",
            str(tmp_path / "load"),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads((tmp_path / "load.json").read_text())
    modes = {r["mode"]: r for r in result["modes"]}
    assert set(modes) == {"batched", "unbatched"} and modes["unbatched"]["max_batch"] == 0
    for r in modes.values():
        assert r["ok"] > 0 and r["errors"] == 0 and r["image_mismatches"] == 0
        assert r["latency_ms"]["p50"] <= r["latency_ms"]["p99"]
        assert r["server_rss_mb"]["start"] > 10 and r["server_rss_mb"]["samples"] >= 2
        assert r["server_cpu_s"] > 0 and r["images_per_server_cpu_s"] > 0
    table = (tmp_path / "load.md").read_text()
    assert "| batching (max 4, 5 ms) | 4 |" in table and "| no batching | 4 |" in table
    assert "Batching serves" in table


def test_bad_arguments_are_refused():
    out = subprocess.run([sys.executable, str(SCRIPT), "--clients", "0"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "--clients must be at least 1" in out.stderr
    out = subprocess.run([sys.executable, str(SCRIPT), "--modes", "fast"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "--modes takes batched and/or unbatched" in out.stderr
