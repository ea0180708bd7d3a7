"""Load test of `python -m zoo_runtime serve`: many concurrent clients against 127.0.0.1, batching on and off.

    python benchmarks/serve_load.py [--model stylegan2_64.shapes | --package PKG] [--clients 64] [--duration 60]
                                    [--max-batch 32 --max-delay-ms 5] [--modes batched,unbatched]
                                    [--out benchmarks/results/serve_load]

For each mode the server runs in its own process (`python -m zoo_runtime serve PKG --port 0`, the
command a user runs), and `--clients` threads each keep one HTTP connection and send POST /generate
({"seed": s, "n": --n, "format": "raw"}) back to back for `--duration` seconds, after a short
warm-up that is not counted. Measured: requests and images per second, latency p50/p90/p99,
errors (any status but 200, or a failed connection), images that differ from the library's
`zoo_runtime.load(PKG).generate(n, seed=s)` (every response is compared, byte for byte), and the
server's resident memory sampled every half second (start, end, peak, and its trend over the
second half of the run, MB per minute), and the server's CPU seconds over the measured window (images
per server CPU-second: the cost of an image, whatever share of the machine the server got). The client threads share the machine with the server, so
on a small machine they take part of its CPU: the figures are a floor.
Writes OUT.json and OUT.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np


def build_package(model: str, workdir: Path) -> Path:
    import zoo

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return zoo.export(model, workdir / "pkg", progress=False)


def start_server(pkg: Path, max_batch: int, max_delay_ms: float, threads: int | None, max_n: int):
    cmd = [
        sys.executable,
        "-m",
        "zoo_runtime",
        "serve",
        str(pkg),
        "--port",
        "0",
        "--providers",
        "cpu",
        "--max-batch",
        str(max_batch),
        "--max-delay-ms",
        str(max_delay_ms),
        "--max-n",
        str(max_n),
    ]
    if threads:
        cmd += ["--threads", str(threads)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith("serving "):
        proc.kill()
        raise RuntimeError(f"the server did not start: {line}{proc.stderr.read()[-2000:]}")
    return proc, line.split(" on ")[1].split()[0]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Sampler(threading.Thread):
    """The server's resident memory every `every` seconds: [(seconds since start, MB)]."""

    def __init__(self, pid: int, every: float = 0.5):
        super().__init__(daemon=True)
        self.pid, self.every, self.samples, self.stop = pid, every, [], threading.Event()
        self.t0 = time.perf_counter()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.samples.append((time.perf_counter() - self.t0, rss_mb(self.pid)))
            except OSError:
                return
            self.stop.wait(self.every)


def client(url: str, body_for, expected: dict, stop_at: float, count_from: float, out: list) -> None:
    """One client: one keep-alive connection, requests back to back until stop_at; records
    (latency s, ok, image mismatch, max pixel difference) for requests started after count_from."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=120)
    rng = random.Random(threading.get_ident())
    while (start := time.perf_counter()) < stop_at:
        seed = rng.choice(list(expected))
        ok, mismatch, diff = False, False, 0
        try:
            conn.request("POST", "/generate", body=body_for(seed), headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
            ok = resp.status == 200
            if ok and data != expected[seed]:
                mismatch = True
                got = np.frombuffer(data, np.uint8)
                want = np.frombuffer(expected[seed], np.uint8)
                diff = int(np.abs(got.astype(int) - want).max()) if got.size == want.size else 255
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection(host, int(port), timeout=120)
        if start >= count_from:
            out.append((time.perf_counter() - start, ok, mismatch, diff))


def run_mode(name: str, pkg: Path, expected: dict, args, max_batch: int) -> dict:
    proc, url = start_server(pkg, max_batch, args.max_delay_ms, args.threads, max(args.n, 1))
    sampler = Sampler(proc.pid)
    sampler.start()
    records: list = []
    try:
        t0 = time.perf_counter()
        count_from, stop_at = t0 + args.warmup, t0 + args.warmup + args.duration

        def body_for(seed: int) -> bytes:
            return json.dumps({"seed": seed, "n": args.n, "format": "raw"}).encode()

        threads = [
            threading.Thread(target=client, args=(url, body_for, expected, stop_at, count_from, records))
            for _ in range(args.clients)
        ]
        for t in threads:
            t.start()
        time.sleep(max(0.0, count_from - time.perf_counter()))
        cpu_start = cpu_seconds(proc.pid)
        for t in threads:
            t.join()
        server_cpu = cpu_seconds(proc.pid) - cpu_start
        measured = time.perf_counter() - count_from  # includes the last requests' tails
    finally:
        sampler.stop.set()
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    lat = [r[0] for r in records if r[1]]
    mem = [(t, mb) for t, mb in sampler.samples if t >= args.warmup]
    half = [(t, mb) for t, mb in mem if t >= args.warmup + args.duration / 2]
    slope = float(np.polyfit([t for t, _ in half], [mb for _, mb in half], 1)[0] * 60) if len(half) > 2 else None
    ok = len(lat)
    return {
        "mode": name,
        "max_batch": max_batch,
        "max_delay_ms": args.max_delay_ms if max_batch else None,
        "clients": args.clients,
        "n_per_request": args.n,
        "seconds": round(measured, 1),
        "requests": len(records),
        "ok": ok,
        "errors": len(records) - ok,
        "image_mismatches": sum(1 for r in records if r[2]),
        "max_pixel_difference": max((r[3] for r in records), default=0),
        "requests_per_s": ok / measured,
        "images_per_s": ok * args.n / measured,
        "server_cpu_s": server_cpu,
        "images_per_server_cpu_s": ok * args.n / server_cpu if server_cpu > 0 else None,
        "latency_ms": {p: 1e3 * float(np.percentile(lat, int(p[1:]))) for p in ("p50", "p90", "p99")} if lat else None,
        "server_rss_mb": {
            "start": mem[0][1] if mem else None,
            "end": mem[-1][1] if mem else None,
            "peak": max(mb for _, mb in mem) if mem else None,
            "trend_second_half_mb_per_min": slope,
            "samples": len(mem),
        },
    }


def markdown(result: dict) -> str:
    lines = [
        f"Measured by `python benchmarks/serve_load.py {result['argv']}` on {result['machine']['cpu']} "
        f"({result['machine']['logical_cpus']} logical CPUs; clients and server share them), model "
        f"{result['model']}, onnxruntime {result['machine']['onnxruntime']}. Load average "
        f"{result['load_average_before'][0]} before, {result['load_average_after'][0]} after. Library reference, "
        f"same process, no HTTP: {result['library']['batch1_images_per_s']:.0f} images/s at batch 1, "
        f"{result['library']['batchB_images_per_s']:.0f} at batch {result['library']['batch']}.",
        "",
        "| mode | clients | requests/s | images/s | images per server CPU-s | p50 (ms) | p90 (ms) | p99 (ms) | "
        "errors | images unlike the library | server memory start / end / peak (MB) | memory trend, 2nd half "
        "(MB/min) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["modes"]:
        lat, mem = r["latency_ms"] or {"p50": 0, "p90": 0, "p99": 0}, r["server_rss_mb"]
        trend = "-" if mem["trend_second_half_mb_per_min"] is None else f"{mem['trend_second_half_mb_per_min']:+.1f}"
        mode = f"batching (max {r['max_batch']}, {r['max_delay_ms']:g} ms)" if r["max_batch"] else "no batching"
        per_cpu = "-" if r["images_per_server_cpu_s"] is None else f"{r['images_per_server_cpu_s']:.0f}"
        lines.append(
            f"| {mode} | {r['clients']} | {r['requests_per_s']:.1f} | {r['images_per_s']:.1f} | {per_cpu} | "
            f"{lat['p50']:.0f} | {lat['p90']:.0f} | {lat['p99']:.0f} | {r['errors']} of {r['requests']} | "
            f"{r['image_mismatches']} (max diff {r['max_pixel_difference']}) | "
            f"{mem['start']:.0f} / {mem['end']:.0f} / {mem['peak']:.0f} | {trend} |"
        )
    modes = {r["max_batch"] > 0: r for r in result["modes"]}
    if True in modes and False in modes and modes[False]["requests_per_s"]:
        on, off = modes[True], modes[False]
        line = (
            f"Batching serves {on['requests_per_s'] / off['requests_per_s']:.2f}x the requests per second of the "
            "same server without it"
        )
        if on["images_per_server_cpu_s"] and off["images_per_server_cpu_s"]:
            line += (
                f" and {on['images_per_server_cpu_s'] / off['images_per_server_cpu_s']:.2f}x the images per "
                "server CPU-second"
            )
        lines += ["", line + "."]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="stylegan2_64.shapes", help="registered model to export (ignored with --package)")
    p.add_argument("--package", help="an exported model package (skips the export)")
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--duration", type=float, default=60.0, help="measured seconds per mode")
    p.add_argument("--warmup", type=float, default=3.0, help="seconds of load before measuring")
    p.add_argument("--n", type=int, default=1, help="images per request")
    p.add_argument("--max-batch", type=int, default=32)
    p.add_argument("--max-delay-ms", type=float, default=5.0)
    p.add_argument("--modes", default="batched,unbatched")
    p.add_argument("--threads", type=int, help="server CPU threads (default: physical cores)")
    p.add_argument("--seeds", type=int, default=32, help="distinct seeds the clients draw from")
    p.add_argument("--out", default="benchmarks/results/serve_load")
    args = p.parse_args()
    for name in ("clients", "n", "seeds"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1")
    if args.duration <= 0:
        p.error("--duration must be positive")
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not modes or set(modes) - {"batched", "unbatched"}:
        p.error("--modes takes batched and/or unbatched")

    import onnxruntime

    import zoo_runtime

    workdir = Path(tempfile.mkdtemp(prefix="zoo-serve-load-"))
    pkg = Path(args.package) if args.package else build_package(args.model, workdir)
    with zoo_runtime.load(pkg, providers="cpu", threads=args.threads) as gen:  # what the library gives, per seed
        expected = {s: gen.generate(args.n, seed=s).tobytes() for s in range(args.seeds)}
        reps = 20
        t = time.perf_counter()
        for i in range(reps):
            gen.generate(1, seed=i)
        b1 = reps / (time.perf_counter() - t)
        t = time.perf_counter()
        gen.generate(args.max_batch, seed=0)
        bb = args.max_batch / (time.perf_counter() - t)
        model = gen.manifest["model"]["name"]
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    result = {
        "argv": " ".join(sys.argv[1:]),
        "model": model,
        "machine": {"cpu": cpu, "logical_cpus": os.cpu_count(), "onnxruntime": onnxruntime.__version__},
        "library": {"batch1_images_per_s": b1, "batchB_images_per_s": bb, "batch": args.max_batch},
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        "modes": [],
    }
    for mode in modes:
        r = run_mode(mode, pkg, expected, args, args.max_batch if mode == "batched" else 0)
        result["modes"].append(r)
        print(
            f"{mode}: {r['requests_per_s']:.1f} requests/s, p50 {r['latency_ms']['p50'] if r['latency_ms'] else 0:.0f} ms, "
            f"p99 {r['latency_ms']['p99'] if r['latency_ms'] else 0:.0f} ms, errors {r['errors']}, mismatches "
            f"{r['image_mismatches']}, rss {r['server_rss_mb']['start']:.0f} -> {r['server_rss_mb']['end']:.0f} MB",
            flush=True,
        )
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2))
    table = markdown(result)
    out.with_suffix(".md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
