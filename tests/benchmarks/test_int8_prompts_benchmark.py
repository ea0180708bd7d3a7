"""benchmarks/int8_prompts.py: int8 against fp32 on typed captions, through zoo_runtime, written as JSON and a table."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

import zoo
from zoo.exporting import export

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "int8_prompts.py"


@pytest.mark.filterwarnings("ignore")
def test_reports_the_int8_error_per_caption(tmp_path):
    torch.manual_seed(0)
    model = zoo.create_model("dcgan32", width=8, conditioning="text", text_dim=256, text_encoder="hash", film=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fp32 = export(model, tmp_path / "fp32", progress=False)
        int8 = export(model, tmp_path / "int8", precision="int8", progress=False, quality_n=16, calibration_n=32)
    out = tmp_path / "report"
    run = subprocess.run(
        [sys.executable, str(SCRIPT), str(fp32), str(int8), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(out.with_suffix(".json").read_text())
    assert len(result["captions"]) == 8 and 0 <= result["mean_abs"] < 0.05
    assert "| **all** |" in out.with_suffix(".md").read_text()
