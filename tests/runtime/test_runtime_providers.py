"""Provider choice and fallback. This machine has no GPU: the TensorRT/CUDA sessions themselves are
GPU-only and NOT exercisable here; what is tested is the options we would pass them, the probes,
and that a failing provider falls back with one line instead of ONNX Runtime's error dump."""

from __future__ import annotations

import os
import subprocess
import sys

import onnxruntime as ort
import pytest

import zoo_runtime
from zoo_runtime import providers as prov

HAS_GPU = prov.cuda_driver_problem() is None
GPU_BUILDS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")


def test_normalize():
    assert prov.normalize("auto") == ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert prov.normalize("cuda") == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert prov.normalize(["trt", "cpu"]) == ["TensorrtExecutionProvider", "CPUExecutionProvider"]
    assert prov.normalize("CPUExecutionProvider") == ["CPUExecutionProvider"]
    with pytest.raises(ValueError, match="unknown provider"):
        prov.normalize("rocm")


def test_session_options():
    so = prov.session_options()
    assert so.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert so.execution_mode == ort.ExecutionMode.ORT_SEQUENTIAL
    assert so.intra_op_num_threads == prov.physical_cores() >= 1
    assert prov.session_options(3).intra_op_num_threads == 3


def test_tensorrt_options(uncond, classcond, tmp_path):
    manifest = zoo_runtime.read_manifest(classcond[0])
    opts = prov.tensorrt_options(manifest, "ab" * 32, opt_batch=8, max_batch=256, root=tmp_path)
    assert opts["trt_fp16_enable"] is True
    assert opts["trt_engine_cache_enable"] and opts["trt_timing_cache_enable"]
    cache = opts["trt_engine_cache_path"]
    assert cache == opts["trt_timing_cache_path"] and os.path.isdir(cache)
    assert cache.startswith(str(tmp_path / "tensorrt" / "abababababababab-ort"))  # keyed by model, ORT and GPU
    # a dynamic batch needs min/opt/max shapes for every input
    assert opts["trt_profile_min_shapes"] == "z:1x128,labels:1"
    assert opts["trt_profile_opt_shapes"] == "z:8x128,labels:8"
    assert opts["trt_profile_max_shapes"] == "z:256x128,labels:256"


def test_cuda_options_and_provider_chains():
    assert prov.cuda_options()["cudnn_conv_algo_search"] == "HEURISTIC"
    assert "enable_cuda_graph" not in prov.cuda_options()
    assert prov.cuda_options(1, cuda_graph=True) == {**prov.cuda_options(1), "enable_cuda_graph": "1"}
    trt = prov.provider_chain(
        "TensorrtExecutionProvider", {"trt_fp16_enable": True}, {"CUDAExecutionProvider": {"device_id": "0"}}
    )
    assert [p for p, _ in trt] == ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert trt[1][1] == {"device_id": "0"}  # what TensorRT cannot run goes to CUDA, not the CPU
    assert [p for p, _ in prov.provider_chain("CUDAExecutionProvider", {})] == [
        "CUDAExecutionProvider",
        "CPUExecutionProvider",
    ]
    assert prov.provider_chain("CPUExecutionProvider", {}) == [("CPUExecutionProvider", {})]


def test_one_line_turns_ort_dumps_into_a_line():
    dump = (
        "/onnxruntime_src/onnxruntime/core/session/provider_bridge_ort.cc:2043 onnxruntime::Provider& "
        "onnxruntime::ProviderLibrary::Get() [ONNXRuntimeError] : 1 : FAIL : Failed to load library "
        "/x/libonnxruntime_providers_cuda.so with error: libcublasLt.so.13: cannot open shared object file\n"
        "more\nlines"
    )
    assert prov.one_line(dump) == "libcublasLt.so.13: cannot open shared object file"
    assert "\n" not in prov.one_line("a\nb\nc") and len(prov.one_line("x" * 500)) == 200


@pytest.mark.skipif(HAS_GPU, reason="checks the no-GPU fallback")
def test_auto_falls_back_to_cpu_with_one_line_per_reason(uncond):
    gen = zoo_runtime.load(uncond[0])
    assert gen.provider == "CPUExecutionProvider" and gen.info["providers"] == ["CPUExecutionProvider"]
    gpu_builds = [
        p for p in ("TensorrtExecutionProvider", "CUDAExecutionProvider") if p in ort.get_available_providers()
    ]
    if gpu_builds:
        assert len(gen.provider_notes) == 1 and "\n" not in gen.provider_notes[0]
        assert gen.provider_notes[0].startswith("tensorrt, cuda unavailable: no NVIDIA driver")
    assert gen.generate(2, seed=0).shape == (2, 32, 32, 3)


@pytest.mark.skipif("CUDAExecutionProvider" not in ort.get_available_providers(), reason="needs onnxruntime-gpu")
def test_a_provider_that_fails_to_load_is_one_line_not_a_dump(uncond):
    """Past our own probes: create the CUDA session for real; on this GPU-less machine ORT fails
    (missing libraries or no device) and we get one line and no session; no ORT dump on the console."""
    code = (
        "import sys, zoo_runtime.providers as p\n"
        f"s, why = p.try_session({str(uncond[0] / 'generator.onnx')!r}, p.session_options(1), "
        "'CUDAExecutionProvider', p.cuda_options())\n"
        "print('SESSION' if s is not None else 'WHY:' + why)\n"
        "print('LIB:' + str(p.provider_library_problem('CUDAExecutionProvider')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    if HAS_GPU:
        pytest.skip("GPU present: the CUDA session loads (GPU-only path, not exercisable here)")
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith("WHY:") and len(lines[0]) < 250
    assert "EP Error" not in out.stdout + out.stderr and "[E:onnxruntime" not in out.stderr
    assert lines[1].startswith("LIB:")


def test_cli_prints_the_fallback_as_one_note(uncond, tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "zoo_runtime",
            str(uncond[0]),
            "-n",
            "1",
            "--out",
            str(tmp_path / "a.png"),
            "--providers",
            "cuda",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    notes = [line for line in out.stderr.splitlines() if line.strip()]
    if not HAS_GPU:
        assert len(notes) == 1 and notes[0].startswith("note: cuda unavailable: "), out.stderr


@pytest.mark.skipif(
    not HAS_GPU,
    reason="GPU-only: TensorRT/CUDA sessions, IO binding on device, CUDA graphs are not exercisable on this machine",
)
def test_gpu_paths_on_a_gpu_machine(classcond):
    path, _ = classcond
    gen = zoo_runtime.load(path, providers="cuda")
    assert gen.provider == "CUDAExecutionProvider" and gen.info["runner"] == "BoundRunner"
    cpu = zoo_runtime.load(path, providers="cpu")
    a, b = gen.generate(16, seed=0), cpu.generate(16, seed=0)
    assert abs(a.astype(int) - b).max() <= 2
    with zoo_runtime.load(path, providers="cuda", max_batch=8) as graphed:
        assert graphed.info["runner"] == "GraphRunner"
        assert abs(graphed.generate(5, seed=0).astype(int) - b[:5]).max() <= 2


@pytest.mark.skipif(HAS_GPU, reason="checks the no-GPU machine")
def test_auto_on_a_cpu_machine_is_quiet_unless_asked(uncond, tmp_path):
    """--providers auto picking the CPU on a machine without a GPU prints nothing; --verbose says why."""
    base = [sys.executable, "-m", "zoo_runtime", str(uncond[0]), "-n", "1", "--out", str(tmp_path / "a.png")]
    quiet = subprocess.run(base, capture_output=True, text=True, timeout=60)
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    loud = subprocess.run(base + ["--verbose"], capture_output=True, text=True, timeout=60)
    assert loud.returncode == 0
    gpu_builds = [p for p in GPU_BUILDS if p in ort.get_available_providers()]
    notes = [line for line in loud.stderr.splitlines() if line.strip()]
    assert len(notes) == (1 if gpu_builds else 0) and all(n.startswith("note: ") for n in notes), loud.stderr


def test_missing_onnxruntime_is_one_line_naming_the_extras(uncond, tmp_path):
    code = (
        "import sys; sys.modules['onnxruntime'] = None\n"
        "from zoo_runtime.cli import main\n"
        f"sys.exit(main([{str(uncond[0])!r}, '-n', '1', '--out', {str(tmp_path / 'a.png')!r}]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "pip install 'zoo-runtime[cpu]'" in out.stderr and "zoo-runtime[gpu]" in out.stderr
    assert not (tmp_path / "a.png").exists()


def test_tensorrt_libraries_from_the_wheel_are_optional():
    """Without tensorrt-cu13-libs installed nothing is loaded and nothing fails (the GPU machine's
    actual load of libnvinfer is GPU-only, not exercisable here)."""
    import importlib.util

    if importlib.util.find_spec("tensorrt_libs") is None:
        assert prov.preload_tensorrt_libs() == []
    assert all(lib.endswith(".so.10") for lib in prov.TENSORRT_LIBS)


def test_install_extras_choose_one_onnxruntime_wheel():
    """The runtime's own dependencies carry no ONNX Runtime; [cpu] and [gpu] each bring one wheel,
    and the project's one install command keeps the GPU wheel (as before) plus the server."""
    from pathlib import Path

    import tomllib
    from packaging.requirements import Requirement

    root = Path(__file__).resolve().parents[2]
    project = tomllib.loads((root / "runtime" / "pyproject.toml").read_text())["project"]
    assert not [d for d in project["dependencies"] if Requirement(d).name.startswith("onnxruntime")]
    extras = project["optional-dependencies"]
    assert [Requirement(d).name for d in extras["cpu"]] == ["onnxruntime"]
    gpu = [Requirement(d) for d in extras["gpu"]]
    assert {r.name for r in gpu} == {"onnxruntime-gpu", "onnxruntime"}
    assert (
        sum(r.marker.evaluate(env) for r in gpu for env in [{"platform_system": "Linux", "platform_machine": "x86_64"}])
        == 1
    )
    assert {Requirement(d).name for d in extras["serve"]} == {"starlette", "uvicorn"}
    assert "-e ./runtime[gpu,text,serve]" in (root / "requirements.txt").read_text().splitlines()
