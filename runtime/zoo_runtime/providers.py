"""Choosing ONNX Runtime execution providers, and saying in one line why one did not load.

"auto" tries TensorRT (fp16, engine and timing caches on disk), then CUDA, then the CPU. ONNX Runtime
itself falls back quietly (or with a multi-line dump) when a GPU provider cannot load, so each GPU
provider is probed here first: is it in this onnxruntime build, is there an NVIDIA driver and a
device, do its shared libraries load; only then is a session created with it, and
`session.get_providers()` says what actually runs.

GPU-only behaviour (the TensorRT and CUDA sessions themselves) cannot run on the CPU development
machines; the options passed to them are built by plain functions that the tests check.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import os
import re
from pathlib import Path

ALIASES = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "trt": "TensorrtExecutionProvider",
}
SHORT = {v: k for k, v in ALIASES.items() if k != "trt"}
AUTO_ORDER = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")
GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")


def require_onnxruntime():
    """The onnxruntime module, or a one-line error saying which install brings it: the runtime's
    extras choose the wheel (`[cpu]`: onnxruntime, `[gpu]`: onnxruntime-gpu, about 7x larger)."""
    try:
        import onnxruntime
    except ImportError:
        raise RuntimeError(
            "zoo-runtime needs ONNX Runtime: pip install 'zoo-runtime[cpu]' "
            "(or 'zoo-runtime[gpu]' on a machine with an NVIDIA GPU)"
        ) from None
    return onnxruntime


def normalize(providers: str | list | tuple) -> list[str]:
    """ "auto", a name ("cuda", "CUDAExecutionProvider") or a list of names -> ORT provider names."""
    if isinstance(providers, str):
        if providers == "auto":
            return list(AUTO_ORDER)
        providers = [p.strip() for p in providers.split(",") if p.strip()]
    names = []
    for p in providers:
        name = ALIASES.get(str(p).lower(), p)
        if name not in AUTO_ORDER:
            raise ValueError(f"unknown provider {p!r}; use 'auto' or any of {sorted(ALIASES)}")
        names.append(name)
    if "CPUExecutionProvider" not in names:
        names.append("CPUExecutionProvider")  # always a last resort, so a session can be made
    return names


# --- the machine ---------------------------------------------------------------------------


def physical_cores() -> int:
    """Physical cores this process may use: hyperthread siblings share one core's SIMD units, so
    intra-op threads beyond the physical cores only add contention."""
    try:
        allowed = os.sched_getaffinity(0)
    except AttributeError:  # not Linux
        return max(1, (os.cpu_count() or 2) // 2)
    cores = set()
    for cpu in allowed:
        topo = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            cores.add(
                (topo.joinpath("physical_package_id").read_text().strip(), topo.joinpath("core_id").read_text().strip())
            )
        except OSError:
            cores.add(("?", str(cpu)))
    return max(1, len(cores))


def cuda_driver_problem() -> str | None:
    """None when an NVIDIA driver and at least one CUDA device are present, else why not (one line)."""
    try:
        libcuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return "no NVIDIA driver (libcuda.so.1 not found)"
    rc = libcuda.cuInit(0)
    if rc != 0:
        return f"the NVIDIA driver did not initialise (cuInit error {rc})"
    count = ctypes.c_int(0)
    rc = libcuda.cuDeviceGetCount(ctypes.byref(count))
    if rc != 0 or count.value == 0:
        return "no CUDA device visible (check CUDA_VISIBLE_DEVICES)"
    return None


def gpu_name(device_id: int = 0) -> str:
    """The GPU's name via the driver API (keys the TensorRT cache: engines are tied to the GPU)."""
    try:
        libcuda = ctypes.CDLL("libcuda.so.1")
        libcuda.cuInit(0)
        dev = ctypes.c_int(0)
        libcuda.cuDeviceGet(ctypes.byref(dev), device_id)
        buf = ctypes.create_string_buffer(256)
        libcuda.cuDeviceGetName(buf, 256, dev)
        return buf.value.decode() or "gpu"
    except (OSError, AttributeError):
        return "gpu"


def one_line(text: str, limit: int = 200) -> str:
    """An ONNX Runtime error (often a multi-line dump with source paths) as one short line."""
    text = str(text)
    m = re.search(r"with error: ([^\n]+)", text)
    if m:
        text = m.group(1)
    text = re.sub(r"\S*onnxruntime_src/\S+:\d+\s+(\S+\s)?[^\s]*\([^)]*\)\s*", "", text)
    text = re.sub(r"\[ONNXRuntimeError\]\s*:\s*\d+\s*:\s*\w+\s*:\s*", "", text)
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def provider_library_problem(name: str) -> str | None:
    """Whether the provider's shared library and its CUDA/cuDNN/TensorRT dependencies load."""
    import onnxruntime as ort

    capi = Path(ort.__file__).parent / "capi"
    lib = {"CUDAExecutionProvider": "cuda", "TensorrtExecutionProvider": "tensorrt"}[name]
    path = capi / f"libonnxruntime_providers_{lib}.so"
    if not path.exists():
        return None  # not a Linux wheel layout we know; let the session say
    preload = getattr(ort, "preload_dlls", None)
    if preload is not None:  # CUDA/cuDNN from the nvidia-* pip packages, when installed
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            try:
                preload()
            except Exception:  # noqa: BLE001 -- best effort; the dlopen below says what is missing
                pass
    try:
        if name == "TensorrtExecutionProvider":
            preload_tensorrt_libs()
        ctypes.CDLL(str(capi / "libonnxruntime_providers_shared.so"), mode=ctypes.RTLD_GLOBAL)
        ctypes.CDLL(str(path))
    except OSError as e:
        return one_line(str(e).replace(str(path) + ": ", ""))
    return None


TENSORRT_LIBS = ("libnvinfer.so.10", "libnvinfer_plugin.so.10", "libnvonnxparser.so.10")


def preload_tensorrt_libs() -> list[str]:
    """TensorRT's libraries from the pip wheel (`zoo-runtime[tensorrt]`: tensorrt-cu13-libs), loaded
    globally so ONNX Runtime's TensorRT provider finds them; they live in site-packages, off the
    loader's search path. Returns what was loaded (nothing when the wheel is not installed)."""
    import importlib.util

    spec = importlib.util.find_spec("tensorrt_libs")  # located, not imported
    if spec is None or not spec.submodule_search_locations:
        return []
    folder = Path(list(spec.submodule_search_locations)[0])
    loaded = []
    for lib in TENSORRT_LIBS:
        if (folder / lib).exists():
            ctypes.CDLL(str(folder / lib), mode=ctypes.RTLD_GLOBAL)
            loaded.append(lib)
    return loaded


# --- options for each provider ------------------------------------------------------------


def cache_dir() -> Path:
    return Path(os.environ.get("ZOO_RUNTIME_CACHE", Path.home() / ".cache" / "zoo-runtime"))


def batch_shapes(manifest: dict, batch: int) -> str:
    """TensorRT profile shapes, "z:8x128,labels:8", for every input at a given batch size."""
    parts = []
    for spec in manifest["inputs"]:
        dims = [str(batch) if d == "batch" else str(d) for d in spec["shape"]]
        parts.append(f"{spec['name']}:{'x'.join(dims)}")
    return ",".join(parts)


def tensorrt_options(
    manifest: dict, graph_sha256: str, opt_batch: int, max_batch: int, device_id: int = 0, root: Path | None = None
) -> dict:
    """TensorRT provider options: fp16, engine and timing caches on disk, one optimisation profile
    covering batch 1..max_batch (a dynamic batch needs min/opt/max shapes for every input).

    Engines are tied to the model, onnxruntime, TensorRT and the GPU: the cache folder is keyed by
    the graph's sha256, the onnxruntime version and the GPU name.
    """
    import onnxruntime as ort

    slug = re.sub(r"[^A-Za-z0-9]+", "-", gpu_name(device_id)).strip("-").lower()
    folder = (root or cache_dir()) / "tensorrt" / f"{graph_sha256[:16]}-ort{ort.__version__}-{slug}"
    folder.mkdir(parents=True, exist_ok=True)
    return {
        "device_id": device_id,
        "trt_fp16_enable": True,
        "trt_engine_cache_enable": True,
        "trt_engine_cache_path": str(folder),
        "trt_timing_cache_enable": True,
        "trt_timing_cache_path": str(folder),
        "trt_profile_min_shapes": batch_shapes(manifest, 1),
        "trt_profile_opt_shapes": batch_shapes(manifest, max(1, min(opt_batch, max_batch))),
        "trt_profile_max_shapes": batch_shapes(manifest, max_batch),
    }


def cuda_options(device_id: int = 0, cuda_graph: bool = False) -> dict:
    """CUDA provider options. A CUDA graph replays one captured run: only for a session whose
    input shapes never change, bound with IO binding, never run concurrently."""
    options = {
        "device_id": str(device_id),
        "cudnn_conv_algo_search": "HEURISTIC",  # EXHAUSTIVE costs seconds of cold start per shape
        "do_copy_in_default_stream": "1",
        "arena_extend_strategy": "kSameAsRequested",
    }
    if cuda_graph:
        options["enable_cuda_graph"] = "1"
    return options


def session_options(threads: int | None = None):
    """CPU-side session options: full graph optimisation, sequential execution (a generator is a
    chain), intra-op threads = physical cores."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.intra_op_num_threads = int(threads) if threads else physical_cores()
    so.inter_op_num_threads = 1
    so.log_severity_level = 3  # errors only: fallbacks are reported by us, in one line
    return so


# --- making the session -----------------------------------------------------------------------


def gpu_problem(name: str) -> str | None:
    """Why a GPU provider cannot be used on this machine (one line), or None when it may work."""
    import onnxruntime as ort

    if name not in ort.get_available_providers():
        return (
            "not in this onnxruntime build (the CPU wheel; for GPUs: pip uninstall onnxruntime, then "
            "pip install 'zoo-runtime[gpu]')"
        )
    return cuda_driver_problem() or provider_library_problem(name)


def provider_chain(name: str, options: dict, extra: dict | None = None) -> list:
    """The providers list for a session led by `name`. Nodes a provider cannot run go to the next
    one: TensorRT is followed by CUDA (with `extra["CUDAExecutionProvider"]` options), then the CPU."""
    chain = [(name, options)]
    if name == "TensorrtExecutionProvider":
        chain.append(("CUDAExecutionProvider", (extra or {}).get("CUDAExecutionProvider", cuda_options())))
    if name != "CPUExecutionProvider":
        chain.append(("CPUExecutionProvider", {}))
    return chain


def try_session(graph: str, so, name: str, options: dict, extra: dict | None = None):
    """A session with provider `name` first, or (None, why not in one line). ORT's own fallback and
    its error dumps are switched off; get_providers() says whether `name` really runs."""
    import onnxruntime as ort

    providers = provider_chain(name, options, extra)
    ort.set_default_logger_severity(4)  # ORT logs failed provider loads itself; we report them
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            session = ort.InferenceSession(graph, so, providers=providers, enable_fallback=0)
    except Exception as e:  # noqa: BLE001 -- any provider failure means: try the next one
        return None, one_line(str(e))
    finally:
        ort.set_default_logger_severity(3)
    active = session.get_providers()
    if not active or active[0] != name:
        return None, f"onnxruntime did not enable it (session runs on {active})"
    return session, ""


def create_session(graph: str, requested: list[str], so, options: dict[str, dict]):
    """The first provider of `requested` that loads: (session, provider name, notes), where each
    note is one line saying why a provider before it was skipped."""
    skipped: list[tuple[str, str]] = []  # (provider, why)
    for name in requested:
        if name != "CPUExecutionProvider":
            problem = gpu_problem(name)
            if problem:
                skipped.append((SHORT[name], f"unavailable: {problem}"))
                continue
        session, why = try_session(graph, so, name, options.get(name, {}), options)
        if session is not None:
            return session, name, merge_notes(skipped)
        skipped.append((SHORT[name], f"failed to load: {why}"))
    raise RuntimeError("no execution provider could load the model: " + "; ".join(merge_notes(skipped)))


def merge_notes(skipped: list[tuple[str, str]]) -> list[str]:
    """["tensorrt, cuda unavailable: no NVIDIA driver ..."]: one line per distinct reason."""
    reasons: dict[str, list[str]] = {}
    for name, why in skipped:
        reasons.setdefault(why, []).append(name)
    return [f"{', '.join(names)} {why}" for why, names in reasons.items()]
