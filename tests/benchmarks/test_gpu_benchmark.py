"""benchmarks/gpu.py on a machine without a GPU: it refuses in one line; its argument parsing, model
building, worker and report are the same code a GPU run uses and are tested here on the CPU. The
GPU engines themselves (CUDA, CUDA graphs, TensorRT, --amp) are NOT exercisable here."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu.py"
spec = importlib.util.spec_from_file_location("bench_gpu", SCRIPT)
gpu = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gpu)

NO_GPU = gpu.gpu_problem() is not None


@pytest.mark.skipif(not NO_GPU, reason="checks the refusal on a machine without a GPU")
def test_refuses_in_one_line_without_a_gpu(tmp_path):
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(tmp_path / "gpu")], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith("benchmarks/gpu.py needs an NVIDIA GPU") and len(out.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())  # nothing written


def test_arguments():
    args = gpu.parse_args(["--models", "dcgan64", "--steps", "auto,PyTorch eager"])
    assert args.model_list == ["dcgan64"] and args.step_list == ["auto", "PyTorch eager"] and args.batch == 64
    assert gpu.parse_args([]).model_list == ["dcgan64", "stylegan2_64", "stylegan2_256"]
    for bad in (["--models", "biggan"], ["--steps", "cuda"], ["--batch", "0"], ["--budget-s", "-1"]):
        with pytest.raises(SystemExit):
            gpu.parse_args(bad)


def test_models_are_built_and_exported(tmp_path):
    gan, name = gpu.build_model("stylegan2_256", tiny=True)
    assert gan.config["resolution"] == 32 and name in ("stylegan2_ada", "stylegan2_64")
    m = gpu.prepare("dcgan64", tmp_path, tiny=True)
    assert Path(m["weights"]).is_file() and (Path(m["package"]) / "manifest.json").is_file()
    assert m["flops_per_image"] > 0


def test_report_and_goals():
    result = {
        "device": {
            "gpu": "NVIDIA H200",
            "driver": "570.1",
            "gpu_memory": "141 GB",
            "torch": "2.9",
            "torch_cuda": "13.0",
            "onnxruntime": "1.31",
        },
        "batch": 64,
        "seconds": 400.0,
        "auto": {"provider": "TensorrtExecutionProvider", "notes": []},
        "models": {
            "dcgan64": {
                "engines": {
                    "PyTorch eager": {"ready_s": 2.0, "b1_p50_ms": 1.0, "b1_p99_ms": 2.0, "batch_images_per_s": 5000},
                    "zoo_runtime CUDA": {
                        "ready_s": 1.0,
                        "b1_p50_ms": 0.4,
                        "b1_p99_ms": 0.5,
                        "batch_images_per_s": 8000,
                    },
                    "TensorRT fp16": {
                        "ready_s": 30.0,
                        "cached_ready_s": 2.0,
                        "b1_p50_ms": 0.2,
                        "b1_p99_ms": 0.3,
                        "batch_images_per_s": 10000,
                    },
                    "zoo_runtime CUDA graph": {"error": "cuda graph unavailable: x"},
                },
                "finetune": {"fp32": {"images_per_s": 100.0}, "amp": {"images_per_s": 180.0}},
            },
            "stylegan2_256": {"error": "none registered", "engines": {}},
        },
    }
    result["goals"] = gpu.goals(result)
    assert [(g["goal"], g["met"]) for g in result["goals"]] == [
        ("CUDA batch 1 >= 2x faster than eager", True),
        ("TensorRT fp16 >= 1.5x CUDA fp32 at batch 64", False),
    ]
    table = gpu.markdown(result)
    assert "chose **TensorrtExecutionProvider** (the first in its order" in table
    assert "| dcgan64 | TensorRT fp16 | 30.0 (cached 2.0) | 0.20 | 0.30 | 10000 |" in table
    assert "| dcgan64 | zoo_runtime CUDA graph | cuda graph unavailable: x | | | |" in table
    assert "| dcgan64 | 100.0 | 180.0 | 1.80x |" in table
    assert "| stylegan2_256 | (not built) | none registered |" in table
    assert "| dcgan64 | TensorRT fp16 >= 1.5x CUDA fp32 at batch 64 | 1.25x | **no** |" in table


@pytest.mark.slow
@pytest.mark.skipif(not NO_GPU, reason="the CPU dry run")
def test_cpu_dry_run_end_to_end(tmp_path):
    """--allow-cpu: the non-GPU steps for real (tiny model, eager on the CPU), GPU rows say they were skipped."""
    out = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--allow-cpu",
            "--models",
            "dcgan64",
            "--steps",
            "auto,PyTorch eager,zoo_runtime CUDA,finetune",
            "--calls",
            "3",
            "--runs",
            "2",
            "--batch",
            "4",
            "--out",
            str(tmp_path / "gpu"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads((tmp_path / "gpu.json").read_text())
    engines = result["models"]["dcgan64"]["engines"]
    assert engines["PyTorch eager"]["batch_images_per_s"] > 0
    assert engines["zoo_runtime CUDA"] == {"error": "skipped: needs a GPU"}
    assert result["auto"]["provider"] == "CPUExecutionProvider"
    assert (tmp_path / "gpu.md").read_text().startswith("Measured by `python benchmarks/gpu.py`")
