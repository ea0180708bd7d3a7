"""Generation speed of imported-size StyleGAN2 generators: zoo_runtime vs PyTorch eager vs torch.compile.

    python benchmarks/runtime_import.py [--sizes 256,1024] [--threads N] [--batch 8]
                                        [--out benchmarks/results/runtime_import]

The generators are `stylegan2_ada` at NVlabs' FFHQ channel layouts (256 px: --cfg paper256,
channel_base 16384; 1024 px: --cfg stylegan2, channel_base 32768; 512-d z/w, 8-layer mapping,
conv_clamp 256), with RANDOM weights (seed 0): speed does not depend on the values, and no FFHQ
checkpoint is downloaded. Each size is exported once with `zoo.export` (fp32; its parity figure is
recorded), then every engine runs in its own worker process (one at a time, interleaved per size)
on the same inputs, truncation 1 as a tensor input, returning uint8 NHWC images as an application
wants them: batch 1 latency (median of a few calls) and batch B throughput (best run). The 1024 px
rows use fewer calls and every worker has a time limit (--worker-timeout), so a run on a 2-core CPU
stays bounded; a worker that runs out of time is recorded as such instead of a number.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ENGINES = ("PyTorch eager", "torch.compile", "zoo_runtime fp32")
# per size: warm-up calls at batch 1 (the first included), batch-1 timed calls, batch-B timed runs; at
# 1024 px the batch is not run untimed first (one batch of 8 takes minutes on a shared 2-core CPU)
CALLS = {256: (2, 5, 2), 512: (1, 2, 1), 1024: (1, 1, 1)}


def layout(resolution: int) -> dict:
    from zoo.archs.stylegan2_ada import FFHQ_256, FFHQ_1024

    return {**(FFHQ_256 if resolution <= 256 else FFHQ_1024), "resolution": resolution}


# --- worker: one engine, one size ---------------------------------------------------------------


def _torch_images(weights: str, compiled: bool):
    import torch

    import zoo

    generator = zoo.load(weights).generator.eval()

    class Images(torch.nn.Module):
        """G plus zoo_runtime's in-graph post-processing (scale, clamp, uint8, NHWC)."""

        def __init__(self, g):
            super().__init__()
            self.g = g

        def forward(self, z, psi):
            x = self.g(z, None, psi)
            return ((x + 1) * 127.5 + 0.5).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()

    module = Images(generator).eval()
    if compiled:
        module = torch.compile(module, dynamic=False)

    def run(z):
        with torch.inference_mode():
            return module(torch.from_numpy(z), torch.ones(1)).numpy()

    return run


def worker(args) -> None:
    from zoo_runtime.latents import make_latents

    if args.engine == "zoo_runtime fp32":
        import zoo_runtime  # no torch in this worker, as in an application

        gen = zoo_runtime.load(args.pkg, providers="cpu", threads=args.threads)
        fn = lambda z: gen.generate(z=z, truncation=1.0)  # noqa: E731
    else:
        import torch

        torch.set_num_threads(args.threads)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn = _torch_images(args.weights, compiled=args.engine == "torch.compile")
    z1, zb = make_latents(1, 512, 1), make_latents(args.batch, 512, 2)
    t = time.perf_counter()
    first = fn(z1)  # includes compilation for torch.compile
    first_s = time.perf_counter() - t
    for _ in range(args.warmup - 1):
        fn(z1)
    if args.warmup > 1:
        fn(zb)
    latencies, batch_times = [], []
    for _ in range(args.calls):
        t = time.perf_counter()
        fn(z1)
        latencies.append(time.perf_counter() - t)
    for _ in range(args.runs):
        t = time.perf_counter()
        fn(zb)
        batch_times.append(time.perf_counter() - t)
    print(
        json.dumps(
            {"first_call_s": first_s, "latencies": latencies, "batch_times": batch_times, "shape": list(first.shape)}
        )
    )


def run_worker(engine: str, weights: Path, pkg: Path, resolution: int, args) -> dict:
    warmup, calls, runs = CALLS.get(resolution, CALLS[1024])
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        "--engine",
        engine,
        "--weights",
        str(weights),
        "--pkg",
        str(pkg),
        "--threads",
        str(args.threads),
        "--batch",
        str(args.batch),
        "--warmup",
        str(warmup),
        "--calls",
        str(calls),
        "--runs",
        str(runs),
    ]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.worker_timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {args.worker_timeout} s"}
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1][:300] if out.stderr.strip() else f"exit {out.returncode}"}
    got = json.loads(out.stdout.strip().splitlines()[-1])
    return {
        "b1_median_ms": 1e3 * statistics.median(got["latencies"]),
        "b1_min_ms": 1e3 * min(got["latencies"]),
        f"b{args.batch}_images_per_s": args.batch / min(got["batch_times"]),
        "first_call_s": got["first_call_s"],
        "b1_calls": len(got["latencies"]),
        f"b{args.batch}_runs": len(got["batch_times"]),
        "output_shape": got["shape"],
    }


# --- main -----------------------------------------------------------------------------------------


def build(resolution: int, workdir: Path) -> tuple[Path, Path, dict]:
    import torch

    import zoo

    torch.manual_seed(0)
    model = zoo.create_model("stylegan2_ada", **layout(resolution)).eval()
    with torch.no_grad():
        model.generator.mapping.w_avg.normal_(0, 0.1)
    weights = zoo.save(model, workdir / f"ffhq{resolution}-random.safetensors")
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pkg = zoo.export(model, workdir / f"ffhq{resolution}-fp32", progress=False)
    export_s = time.perf_counter() - t
    manifest = json.loads((pkg / "manifest.json").read_text())
    info = {
        "params_G": sum(p.numel() for p in model.generator.parameters()),
        "flops_per_image": manifest["cost"]["flops_per_image"],
        "export_s": export_s,
        "export_parity": {
            k: manifest["parity"][k] for k in ("float_max_abs", "uint8_max_levels", "batch_sizes", "passed")
        },
        "inputs": [(i["name"], i["shape"]) for i in manifest["inputs"]],
    }
    return weights, pkg, info


def markdown(result: dict) -> str:
    b = result["batch"]
    m = result["machine"]
    lines = [
        f"Measured by `python benchmarks/runtime_import.py` on {m['cpu']} ({m['logical_cpus']} logical CPUs, "
        f"{m['threads']} threads per engine, each engine in its own process), torch {m['torch']}, onnxruntime "
        f"{m['onnxruntime']}; load average {result['load_average_before']} before, {result['load_average_after']} "
        "after. Generators: `stylegan2_ada` at the FFHQ channel layouts with RANDOM weights (speed does not "
        "depend on them), truncation input 1, uint8 NHWC output. No GPU on this machine.",
        "",
        f"| generator | engine | batch 1 median (ms) | batch {b} best (images/s) | first call (s) | calls / runs |",
        "|---|---|---|---|---|---|",
    ]
    for name, size in result["sizes"].items():
        label = f"{name} ({size['params_G'] / 1e6:.1f}M params, {size['flops_per_image'] / 1e9:.1f} GFLOP/image)"
        for engine, row in size["engines"].items():
            if "error" in row:
                lines.append(f"| {label} | {engine} | {row['error']} | | | |")
                continue
            lines.append(
                f"| {label} | {engine} | {row['b1_median_ms']:.0f} | {row[f'b{b}_images_per_s']:.2f} | "
                f"{row['first_call_s']:.1f} | {row['b1_calls']} / {row[f'b{b}_runs']} |"
            )
    lines += [
        "",
        "| generator | export (s) | ONNX vs PyTorch max abs (float) | uint8 max levels | dynamic inputs |",
        "|---|---|---|---|---|",
    ]
    for name, size in result["sizes"].items():
        p = size["export_parity"]
        lines.append(
            f"| {name} | {size['export_s']:.0f} | {p['float_max_abs']:.2e} | {p['uint8_max_levels']} | "
            f"{', '.join(f'{n} {s}' for n, s in size['inputs'])} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="256,1024", help="comma-separated resolutions")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--threads", type=int, default=None, help="threads per engine (default: all CPUs)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--worker-timeout", type=int, default=900, help="seconds per engine worker")
    parser.add_argument("--out", default="benchmarks/results/runtime_import", help="writes OUT.json and OUT.md")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    for hidden in ("--engine", "--weights", "--pkg"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    for hidden in ("--warmup", "--calls", "--runs"):
        parser.add_argument(hidden, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.threads = args.threads or os.cpu_count()
    if args.worker:
        worker(args)
        return
    import onnxruntime
    import torch

    cpu = platform.processor() or "?"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    result = {
        "machine": {
            "cpu": cpu,
            "logical_cpus": os.cpu_count(),
            "threads": args.threads,
            "torch": torch.__version__,
            "onnxruntime": onnxruntime.__version__,
        },
        "weights": "random (seed 0), FFHQ channel layouts",
        "batch": args.batch,
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        "sizes": {},
    }
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    with tempfile.TemporaryDirectory(prefix="zoo-bench-import-") as tmp:
        for res in (int(s) for s in args.sizes.split(",")):
            weights, pkg, info = build(res, Path(tmp))
            name = f"FFHQ {res} px layout"
            print(f"{name}: exported in {info['export_s']:.0f} s, parity {info['export_parity']}", flush=True)
            info["engines"] = {}
            for engine in engines:
                info["engines"][engine] = row = run_worker(engine, weights, pkg, res, args)
                print(f"{name} {engine}: {row}", flush=True)
                result["sizes"][name] = info
                write(result, Path(args.out))  # after every row: a run cut short keeps what it measured
    print(write(result, Path(args.out)))


def write(result: dict, out: Path) -> str:
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2))
    table = markdown(result)
    out.with_suffix(".md").write_text(table)
    return table


if __name__ == "__main__":
    main()
