"""Prompt-to-image latency at batch 1, text encoder included: zoo_runtime vs the PyTorch path.

    python benchmarks/text_latency.py [--encoders hash,minilm] [--threads 1] [--rounds 30]
                                      [--out benchmarks/results/text_latency]

Per encoder, its shipped DCGAN-32 text model (`hash`: dcgan32.shapes-text; `minilm`:
dcgan32_minilm.shapes from the zoo-minilm plugin; without shipped weights, the same architecture with
random weights: latency does not depend on the weights), exported with `zoo.export`. Also run by
benchmarks/runtime.py, whose README table carries these rows. Timed per call, one prompt, one image:
- torch:   GAN.sample(1, seed=i, prompts=[p])      (encoder.encode + generator in PyTorch)
- runtime: Generator.generate(1, seed=i, prompts=[p])  (tokenizer/hash + ONNX encoder + ONNX generator)
plus the encoder alone on each side. For a token-level model (config text_tokens > 0) also the same
architecture without token attention (pooled only, random weights) through the runtime, so the cost of
the tokens is measured side by side, and the runtime encoder with its token output. Engines are timed in interleaved rounds so load bursts from
other processes hit them alike; p50 and p90 in milliseconds; the load average is recorded.
Writes <out>.json and <out>.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import torch

import zoo
import zoo_runtime

PROMPTS = [
    "a small red circle on a blue background",
    "a large yellow triangle on a gray background",
    "A Large Purple Square on a WHITE background",
    "a small green triangle on a black background",
]


SHIPPED = {"hash": "dcgan32.shapes-text", "minilm": "dcgan32_minilm.shapes"}


def model_for(encoder: str):
    if encoder in SHIPPED:
        try:
            return zoo.create_model(SHIPPED[encoder], pretrained=True), SHIPPED[encoder]
        except (FileNotFoundError, KeyError, ValueError) as e:
            print(f"note: shipped weights unavailable ({e}); using random weights")
    dim = zoo.text.get_text_encoder(encoder).dim
    torch.manual_seed(0)
    return (
        zoo.create_model("dcgan32", width=16, conditioning="text", text_dim=dim, text_encoder=encoder),
        f"dcgan32 width 16, text_dim {dim}, random weights",
    )


def timed(fn, i: int) -> float:
    t = time.perf_counter()
    fn(i)
    return (time.perf_counter() - t) * 1000


def bench(encoder: str, rounds: int, threads: int, workdir: Path) -> dict:
    model, what = model_for(encoder)
    model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pkg = zoo.export(model, workdir / f"pkg-{encoder}", progress=False)
    gen = zoo_runtime.load(pkg, providers="cpu", threads=threads)
    from zoo_runtime.text import load_text_encoder

    gen.text_encoder()  # the generator's own encoder, then one with the same thread count as the other engines
    gen._text_encoder = enc_rt = load_text_encoder(pkg, gen.manifest["text_encoder"], threads=threads)
    enc_pt = zoo.text.get_text_encoder(encoder)
    engines = {
        "torch: prompt -> image": lambda i: model.sample(1, seed=i, prompts=[PROMPTS[i % len(PROMPTS)]]),
        "runtime: prompt -> image": lambda i: gen.generate(1, seed=i, prompts=[PROMPTS[i % len(PROMPTS)]]),
        "torch: encoder only": lambda i: enc_pt.encode([PROMPTS[i % len(PROMPTS)]]),
        "runtime: encoder only": lambda i: enc_rt([PROMPTS[i % len(PROMPTS)]]),
    }
    if int(model.config.get("text_tokens") or 0):
        torch.manual_seed(0)
        pooled = zoo.create_model(model.spec.name, **{**model.config, "text_tokens": 0, "text_token_dim": 0})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pooled_pkg = zoo.export(pooled, workdir / f"pkg-{encoder}-pooled", progress=False)
        gen_pooled = zoo_runtime.load(pooled_pkg, providers="cpu", threads=threads)
        gen_pooled._text_encoder = enc_rt
        engines["runtime: prompt -> image, same model without tokens"] = lambda i: gen_pooled.generate(
            1, seed=i, prompts=[PROMPTS[i % len(PROMPTS)]]
        )
        engines["runtime: encoder with tokens"] = lambda i: enc_rt.encode_with_tokens([PROMPTS[i % len(PROMPTS)]])
    for fn in engines.values():  # warm-up: lazy weights, session init, first-call allocations
        for i in range(3):
            fn(i)
    times = {k: [] for k in engines}
    for r in range(rounds):
        for k, fn in engines.items():
            times[k].append(timed(fn, r))
    rows = {
        k: {"p50_ms": round(statistics.median(v), 3), "p90_ms": round(sorted(v)[int(0.9 * (len(v) - 1))], 3)}
        for k, v in times.items()
    }
    speedup = rows["torch: prompt -> image"]["p50_ms"] / rows["runtime: prompt -> image"]["p50_ms"]
    without = rows.get("runtime: prompt -> image, same model without tokens")
    return {
        "token_cost_p50": round(rows["runtime: prompt -> image"]["p50_ms"] / without["p50_ms"], 2) if without else None,
        "encoder": encoder,
        "model": what,
        "rows": rows,
        "runtime_speedup_p50": round(speedup, 2),
        "package_mb": round(sum(p.stat().st_size for p in Path(pkg).rglob("*") if p.is_file()) / 1e6, 1),
    }


def markdown(result: dict) -> str:
    lines = [
        f"Prompt-to-image latency at batch 1 (encoder included), {result['machine']}, "
        f"{result['threads']} thread(s), load average {result['load_average']}:",
        "",
        "| encoder | path | p50 ms | p90 ms |",
        "|---|---|---|---|",
    ]
    for b in result["benchmarks"]:
        for k, v in b["rows"].items():
            lines.append(f"| {b['encoder']} | {k} | {v['p50_ms']:.2f} | {v['p90_ms']:.2f} |")
    lines.append("")
    lines += [
        f"- {b['encoder']}: runtime {b['runtime_speedup_p50']}x faster than PyTorch at p50 "
        f"(model: {b['model']}; package {b['package_mb']} MB)"
        + (
            f"; token-level model / the same without tokens, runtime p50: {b['token_cost_p50']}x"
            if b.get("token_cost_p50")
            else ""
        )
        for b in result["benchmarks"]
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--encoders", default="hash,minilm")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--out", default="benchmarks/results/text_latency")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for enc in args.encoders.split(","):
            try:
                results.append(bench(enc.strip(), args.rounds, args.threads, Path(tmp)))
            except (KeyError, ImportError, ValueError) as e:
                print(f"skipping {enc}: {e}")
    result = {
        "benchmarks": results,
        "threads": args.threads,
        "rounds": args.rounds,
        "machine": f"{os.cpu_count()} CPU cores ({platform.machine()}), torch {torch.__version__}",
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
