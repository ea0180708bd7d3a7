"""The GPU check in one script: every GPU path of the zoo measured side by side, unattended.

    python benchmarks/gpu.py [--models dcgan64,stylegan2_64,stylegan2_256] [--budget-s 450]
                             [--out benchmarks/results/gpu]

On a machine with an NVIDIA GPU and the project's own install (`pip install -r requirements.txt`),
it writes OUT.json and OUT.md with: the device, driver and library versions; the provider that
`zoo_runtime.load(pkg)` ("auto") picks and why the ones before it were skipped; then per model
batch 1 latency (p50/p99, images copied back to the host as uint8, as an application gets them) and
batch 64 throughput for PyTorch eager, torch.compile, zoo_runtime CUDA (IO binding), zoo_runtime
CUDA with CUDA graphs, and TensorRT fp16 (engine build time cold, and again from its cache); and
`zoo finetune --amp` images/s against fp32. Each measurement runs in its own process with a
timeout, so one failing path (a TensorRT that does not load, say) is a row saying why, not a crash;
the whole run keeps to --budget-s (rows past it say "skipped: time budget").

Goals on a GPU: CUDA batch 1 at least 2x faster than eager; TensorRT fp16 at least 1.5x CUDA fp32
at batch 64. Without an NVIDIA GPU it refuses in one line (exit 2) before doing anything.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

# label -> candidates (registered arch or tagged name, config overrides); the first registered one is used.
# The 256 px StyleGAN2: `stylegan2_ada` at NVlabs' FFHQ paper256 layout (random weights), the model of
# benchmarks/runtime_import.py; the zoo's own stylegan2 at 256 px where that arch is missing.
MODELS = {
    "dcgan64": [("dcgan64", {})],
    "stylegan2_64": [("stylegan2_64.shapes", {}), ("stylegan2_64", {})],
    "stylegan2_256": [
        ("stylegan2_ada", {"layout": "FFHQ_256", "resolution": 256}),
        ("stylegan2_64", {"resolution": 256, "width": 32, "max_channels": 512}),
    ],
}
ENGINES = ("PyTorch eager", "torch.compile", "zoo_runtime CUDA", "zoo_runtime CUDA graph", "TensorRT fp16")
GPU_ONLY = {"zoo_runtime CUDA", "zoo_runtime CUDA graph", "TensorRT fp16", "finetune"}
STEPS = ("auto", *ENGINES, "finetune")
PRIORITY = ("PyTorch eager", "zoo_runtime CUDA", "zoo_runtime CUDA graph", "TensorRT fp16", "torch.compile", "finetune")
STEP_CAP_S = 180.0  # no single measurement may take more than this


def gpu_problem() -> str | None:
    """None on a machine with an NVIDIA driver and a CUDA device, else why not (one line)."""
    from zoo_runtime.providers import cuda_driver_problem

    return cuda_driver_problem()


# --- models -------------------------------------------------------------------------------------


def build_model(label: str, tiny: bool = False):
    """(GAN, the name it was built from) for a label of MODELS; `tiny` shrinks it (CPU tests)."""
    import torch

    import zoo
    from zoo.registry import resolve

    torch.manual_seed(0)
    for name, config in MODELS[label]:
        try:
            spec, tag = resolve(name)
        except Exception:  # noqa: BLE001 -- not registered here (e.g. a plugin or an unmerged arch): next candidate
            continue
        overrides = dict(config)
        if "layout" in overrides:  # NVlabs' published channel layout, as benchmarks/runtime_import.py uses it
            from zoo.archs import stylegan2_ada

            overrides = {**getattr(stylegan2_ada, overrides.pop("layout")), **overrides}
        if tiny:
            from zoo.exporting.testing import tiny_config

            overrides = {**overrides, **tiny_config(name)}
            if "resolution" in overrides:
                overrides["resolution"] = min(overrides["resolution"], 32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return zoo.create_model(name, pretrained=tag is not None and not tiny, **overrides).eval(), name
    raise ValueError(f"none of {[n for n, _ in MODELS[label]]} is registered")


def prepare(label: str, workdir: Path, tiny: bool = False) -> dict:
    """Weights file and fp32 package of one model."""
    import zoo

    gan, name = build_model(label, tiny)
    folder = workdir / label
    weights = folder / "weights.safetensors"
    folder.mkdir(parents=True, exist_ok=True)
    zoo.save(gan, weights)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pkg = zoo.export(gan, folder / "pkg", progress=False)
    return {
        "label": label,
        "built_from": name,
        "config": {k: gan.config[k] for k in ("resolution",) if k in gan.config},
        "weights": str(weights),
        "package": str(pkg),
        "flops_per_image": json.loads((Path(pkg) / "manifest.json").read_text())["cost"]["flops_per_image"],
    }


# --- measuring, in a worker process -------------------------------------------------------------------


def _timings(fn, z1, c1, zb, cb, calls: int, runs: int) -> dict:
    for _ in range(3):
        fn(z1, c1)
    fn(zb, cb)
    lat = []
    for _ in range(calls):
        t = time.perf_counter()
        fn(z1, c1)
        lat.append(time.perf_counter() - t)
    thr = []
    for _ in range(runs):
        t = time.perf_counter()
        fn(zb, cb)
        thr.append(time.perf_counter() - t)
    return {
        "b1_p50_ms": 1e3 * float(np.percentile(lat, 50)),
        "b1_p99_ms": 1e3 * float(np.percentile(lat, 99)),
        "batch_images_per_s": len(zb) / min(thr),
        "batch_images_per_s_median": len(zb) / statistics.median(thr),
    }


def _cond(manifest: dict, n: int) -> dict:
    from zoo_runtime.latents import make_labels

    c = manifest["conditioning"]
    if c["kind"] == "class":
        return {"labels": make_labels(n, c["num_classes"], 0)}
    if c["kind"] == "text":
        return {"embeddings": np.ones((n, c["text_dim"]), np.float32) / np.sqrt(c["text_dim"])}
    return {}


def _torch_fn(weights: str, device: str, compiled: bool):
    import torch

    import zoo

    g = zoo.load(weights).generator.eval().to(device)

    def images(z, c=None):
        x = g(z, c)
        return ((x + 1) * 127.5 + 0.5).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()

    forward = torch.compile(images, dynamic=False) if compiled else images

    def run(z, cond):
        c = cond.get("labels", cond.get("embeddings"))
        with torch.inference_mode():
            out = forward(torch.from_numpy(z).to(device), None if c is None else torch.from_numpy(c).to(device))
            return out.cpu().numpy()  # the images in host memory, like the runtime returns them

    return run


def worker(args) -> dict:
    """One engine on one model: {"b1_p50_ms", ..., "ready_s", "provider", "notes"}."""
    import zoo_runtime
    from zoo_runtime.latents import make_latents

    manifest = zoo_runtime.read_manifest(args.package)
    z1, zb = make_latents(1, manifest["latent_dim"], 1), make_latents(args.batch, manifest["latent_dim"], 2)
    c1, cb = _cond(manifest, 1), _cond(manifest, args.batch)
    t0 = time.perf_counter()
    out: dict = {}
    if args.engine == "auto":
        gen = zoo_runtime.load(args.package)
        return {"provider": gen.provider, "notes": gen.provider_notes, "providers": gen.info["providers"]}
    if args.engine in ("PyTorch eager", "torch.compile"):
        fn = _torch_fn(args.weights, args.device, args.engine == "torch.compile")
        fn(z1, c1)
        out["ready_s"] = time.perf_counter() - t0  # compile time included for torch.compile
        out.update(_timings(fn, z1, c1, zb, cb, args.calls, args.runs))
        return out
    if args.engine == "zoo_runtime CUDA":
        gen = zoo_runtime.load(args.package, providers="cuda")
        gens = {1: gen, args.batch: gen}
    elif args.engine == "zoo_runtime CUDA graph":  # one captured graph per batch size
        gens = {
            b: zoo_runtime.load(args.package, providers="cuda", max_batch=b, cuda_graph=True) for b in (1, args.batch)
        }
    elif args.engine == "TensorRT fp16":  # profile optimised for the batch; no batching delay
        gen = zoo_runtime.load(args.package, providers="tensorrt", max_batch=args.batch, max_delay_ms=0)
        gens = {1: gen, args.batch: gen}
    else:
        raise ValueError(f"unknown engine {args.engine!r}")
    for b, g in gens.items():
        g.generate(z=zb if b == args.batch else z1, **(cb if b == args.batch else c1))  # builds engines / captures
    out["ready_s"] = time.perf_counter() - t0
    out["provider"] = gens[1].provider
    out["runner"] = {b: g.info["runner"] for b, g in gens.items()}
    out["notes"] = sorted({n for g in gens.values() for n in g.provider_notes})
    if (
        args.engine != "TensorRT fp16"
        and gens[1].provider != "CUDAExecutionProvider"
        or args.engine == "TensorRT fp16"
        and gens[1].provider != "TensorrtExecutionProvider"
    ):
        raise RuntimeError(f"runs on {gens[1].provider}, not the GPU path asked for: {'; '.join(out['notes'])}")

    def fn(z, cond):
        return gens[len(z)].generate(z=z, **cond)

    out.update(_timings(fn, z1, c1, zb, cb, args.calls, args.runs))
    return out


def run_step(cmd: list[str], timeout: float, env: dict | None = None) -> dict:
    """A worker command's JSON result, or {"error": one line} when it fails or runs out of time."""
    if timeout <= 5:
        return {"error": "skipped: time budget"}
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if out.returncode != 0:
        lines = [line for line in out.stderr.strip().splitlines() if line.strip()]
        return {"error": (lines[-1] if lines else f"exit {out.returncode}")[:300]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def finetune_rate(weights: str, workdir: Path, amp: bool, steps: int, batch: int, timeout: float, device: str) -> dict:
    """images/s of `zoo finetune` (the last logged rate), with or without --amp."""
    if timeout <= 5:
        return {"error": "skipped: time budget"}
    out_dir = workdir / f"finetune-{'amp' if amp else 'fp32'}"
    zoo_cli = shutil.which("zoo") or "zoo"
    cmd = [
        zoo_cli,
        "finetune",
        weights,
        "--data",
        "builtin:shapes",
        "--steps",
        str(steps),
        "--batch",
        str(batch),
        "--out",
        str(out_dir),
        "--overwrite",
        "--no-progress",
        "--json",
        "--eval-samples",
        "0",
        "--sample-every",
        str(10 * steps),
        "--checkpoint-every",
        str(10 * steps),
        "--log-every",
        str(max(1, steps // 4)),
        "--device",
        device,
    ] + (["--amp"] if amp else [])
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
        return {"error": (lines[-1] if lines else f"exit {proc.returncode}")[:300]}
    rates = [
        json.loads(line).get("images_per_s")
        for line in (out_dir / "metrics.jsonl").read_text().splitlines()
        if line.strip()
    ]
    rates = [r for r in rates if r]
    return {"images_per_s": rates[-1] if rates else None, "steps": steps, "batch": batch}


# --- the report ---------------------------------------------------------------------------------------


def device_info() -> dict:
    import onnxruntime

    info = {
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
        "onnxruntime_providers": onnxruntime.get_available_providers(),
    }
    try:
        import torch

        info.update(
            {
                "torch": torch.__version__,
                "torch_cuda": torch.version.cuda,
                "cudnn": torch.backends.cudnn.version() if torch.cuda.is_available() else None,
            }
        )
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
            info["gpu_memory_gb"] = round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)
    except ImportError:
        pass
    smi = shutil.which("nvidia-smi")
    if smi:
        q = subprocess.run(
            [smi, "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
            capture_output=True,
            text=True,
        )
        if q.returncode == 0 and q.stdout.strip():
            name, driver, memory = (s.strip() for s in q.stdout.strip().splitlines()[0].split(","))
            info.update({"gpu": name, "driver": driver, "gpu_memory": memory})
    return info


def goals(result: dict) -> list[dict]:
    out = []
    for label, m in result["models"].items():
        e = m["engines"]
        eager, cuda, trt = (e.get(k) or {} for k in ("PyTorch eager", "zoo_runtime CUDA", "TensorRT fp16"))
        if "b1_p50_ms" in eager and "b1_p50_ms" in cuda:
            x = eager["b1_p50_ms"] / cuda["b1_p50_ms"]
            out.append(
                {"model": label, "goal": "CUDA batch 1 >= 2x faster than eager", "measured": f"{x:.2f}x", "met": x >= 2}
            )
        if "batch_images_per_s" in trt and "batch_images_per_s" in cuda:
            x = trt["batch_images_per_s"] / cuda["batch_images_per_s"]
            out.append(
                {
                    "model": label,
                    "goal": f"TensorRT fp16 >= 1.5x CUDA fp32 at batch {result['batch']}",
                    "measured": f"{x:.2f}x",
                    "met": x >= 1.5,
                }
            )
    return out


def markdown(result: dict) -> str:
    d = result["device"]
    auto = result.get("auto", {})
    lines = [
        f"Measured by `python benchmarks/gpu.py` in {result['seconds']:.0f} s on {d.get('gpu', '?')} "
        f"(driver {d.get('driver', '?')}, {d.get('gpu_memory', d.get('gpu_memory_gb', '?'))}), torch "
        f"{d.get('torch', '?')} (CUDA {d.get('torch_cuda', '?')}), onnxruntime {d.get('onnxruntime', '?')}.",
        "",
        f'`zoo_runtime.load(pkg)` (providers="auto") chose **{auto.get("provider", auto.get("error", "?"))}**'
        + (
            f"; skipped before it: {'; '.join(auto['notes'])}"
            if auto.get("notes")
            else " (the first in its order: TensorRT, CUDA, CPU)"
        )
        + ".",
        "",
        f"| model | engine | ready (s) | batch 1 p50 (ms) | batch 1 p99 (ms) | batch {result['batch']} (images/s) |",
        "|---|---|---|---|---|---|",
    ]
    for label, m in result["models"].items():
        if "error" in m:
            lines.append(f"| {label} | (not built) | {m['error']} | | | |")
        for engine, r in m["engines"].items():
            r = r if r is not None else {"error": "skipped: time budget"}
            if "error" in r:
                lines.append(f"| {label} | {engine} | {r['error']} | | | |")
                continue
            ready = f"{r['ready_s']:.1f}" + (f" (cached {r['cached_ready_s']:.1f})" if "cached_ready_s" in r else "")
            lines.append(
                f"| {label} | {engine} | {ready} | {r['b1_p50_ms']:.2f} | {r['b1_p99_ms']:.2f} | "
                f"{r['batch_images_per_s']:.0f} |"
            )
    rows = [(label, m["finetune"]) for label, m in result["models"].items() if m.get("finetune")]
    if rows:
        lines += [
            "",
            "| model | `zoo finetune` fp32 (images/s) | `--amp` (images/s) | amp / fp32 |",
            "|---|---|---|---|",
        ]
        for label, f in rows:
            fp32, amp = f.get("fp32", {}), f.get("amp", {})
            a, b = fp32.get("images_per_s"), amp.get("images_per_s")
            lines.append(
                f"| {label} | {a if a else fp32.get('error', '-')} | {b if b else amp.get('error', '-')} | "
                f"{f'{b / a:.2f}x' if a and b else '-'} |"
            )
    if result["goals"]:
        lines += ["", "| model | goal | measured | met |", "|---|---|---|---|"]
        lines += [
            f"| {g['model']} | {g['goal']} | {g['measured']} | {'yes' if g['met'] else '**no**'} |"
            for g in result["goals"]
        ]
    return "\n".join(lines) + "\n"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, of {', '.join(MODELS)} (default: all)")
    p.add_argument("--steps", default=",".join(STEPS), help=f"comma-separated, of {', '.join(STEPS)} (default: all)")
    p.add_argument("--batch", type=int, default=64, help="the throughput batch (default 64)")
    p.add_argument("--calls", type=int, default=50, help="timed batch-1 calls per engine (default 50)")
    p.add_argument("--runs", type=int, default=8, help="timed batch runs per engine (default 8)")
    p.add_argument(
        "--budget-s",
        type=float,
        default=450,
        help="stop starting measurements after this many seconds (default 450: the whole run stays under 8 minutes)",
    )
    p.add_argument("--finetune-steps", type=int, default=40, help="steps per `zoo finetune` run (default 40)")
    p.add_argument("--out", default="benchmarks/results/gpu", help="writes OUT.json and OUT.md")
    # for tests on a machine without a GPU: run the non-GPU steps on the CPU, tiny models
    p.add_argument("--allow-cpu", action="store_true", help=argparse.SUPPRESS)
    # worker mode (internal): one engine on one model
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--engine", help=argparse.SUPPRESS)
    p.add_argument("--package", help=argparse.SUPPRESS)
    p.add_argument("--weights", help=argparse.SUPPRESS)
    p.add_argument("--device", default="cuda", help=argparse.SUPPRESS)
    return p


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = parser()
    args = p.parse_args(argv)
    if args.worker:
        return args
    args.model_list = [m.strip() for m in args.models.split(",") if m.strip()]
    args.step_list = [s.strip() for s in args.steps.split(",") if s.strip()]
    unknown = [m for m in args.model_list if m not in MODELS] + [s for s in args.step_list if s not in STEPS]
    if unknown:
        p.error(f"unknown model or step {unknown[0]!r}; models: {', '.join(MODELS)}; steps: {', '.join(STEPS)}")
    if not args.model_list or min(args.batch, args.calls, args.runs, args.finetune_steps) < 1 or args.budget_s <= 0:
        p.error(
            "--models must name a model; --batch, --calls, --runs, --finetune-steps and --budget-s must be positive"
        )
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args)))
        return 0
    problem = gpu_problem()
    if problem and not args.allow_cpu:
        print(f"benchmarks/gpu.py needs an NVIDIA GPU, and this machine has none usable: {problem}", file=sys.stderr)
        return 2
    device = "cpu" if problem else "cuda"
    start = time.perf_counter()
    deadline = start + args.budget_s
    workdir = Path(tempfile.mkdtemp(prefix="zoo-bench-gpu-"))
    result = {"device": device_info(), "batch": args.batch, "models": {}}
    try:
        bases = {}
        for label in args.model_list:
            try:
                m = prepare(label, workdir, tiny=args.allow_cpu and problem is not None)
            except Exception as e:  # noqa: BLE001 -- a model that cannot be built is a row saying why
                result["models"][label] = {"error": str(e).splitlines()[0], "engines": {}}
                continue
            m["engines"] = {engine: None for engine in ENGINES if engine in args.step_list}  # table order
            result["models"][label] = m
            bases[label] = [
                sys.executable,
                __file__,
                "--worker",
                "--package",
                m["package"],
                "--weights",
                m["weights"],
                "--batch",
                str(args.batch),
                "--calls",
                str(args.calls),
                "--runs",
                str(args.runs),
                "--device",
                device,
            ]
        if "auto" in args.step_list and bases:
            result["auto"] = run_step(next(iter(bases.values())) + ["--engine", "auto"], deadline - time.perf_counter())
        # the runtime's GPU paths for every model first, then torch.compile (its compile is the slowest
        # step), then fine-tuning: when the budget runs out, what is skipped is the least important
        for engine in PRIORITY:
            for label, base in bases.items():
                m = result["models"][label]
                if engine not in args.step_list:
                    continue
                if engine in GPU_ONLY and device != "cuda":
                    skipped = {"error": "skipped: needs a GPU"}
                    if engine == "finetune":
                        m["finetune"] = {"fp32": skipped, "amp": skipped}
                    else:
                        m["engines"][engine] = skipped
                    continue
                if engine == "finetune":
                    m["finetune"] = {
                        k: finetune_rate(
                            m["weights"],
                            workdir,
                            k == "amp",
                            args.finetune_steps,
                            32,
                            min(STEP_CAP_S, deadline - time.perf_counter()),
                            device,
                        )
                        for k in ("fp32", "amp")
                    }
                    continue
                trt_cache = workdir / "trt-cache"
                env = {**os.environ, "ZOO_RUNTIME_CACHE": str(trt_cache)}
                shutil.rmtree(trt_cache, ignore_errors=True)  # cold: no engine or timing cache
                r = run_step(base + ["--engine", engine], min(STEP_CAP_S, deadline - time.perf_counter()), env)
                if engine == "TensorRT fp16" and "error" not in r:  # again, with the engines cached on disk
                    cached = run_step(base + ["--engine", engine], min(STEP_CAP_S, deadline - time.perf_counter()), env)
                    if "ready_s" in cached:
                        r["cached_ready_s"] = cached["ready_s"]
                m["engines"][engine] = r
                said = (
                    r["error"]
                    if "error" in r
                    else (f"b1 {r['b1_p50_ms']:.2f} ms, b{args.batch} {r['batch_images_per_s']:.0f} images/s")
                )
                print(f"{label} {engine}: {said}", flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    for m in result["models"].values():  # measurements the budget never reached
        m["engines"] = {k: v if v is not None else {"error": "skipped: time budget"} for k, v in m["engines"].items()}
    result["seconds"] = time.perf_counter() - start
    result["goals"] = goals(result)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2, default=str))
    table = markdown(result)
    out.with_suffix(".md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
