"""Where a package's time goes on the CPU: ONNX Runtime's own per-node profiler, summed per op type and per node.

    python benchmarks/profile_runtime.py PKG [--batch 64] [--runs 5] [--threads N] [--top 12]

Runs the package's graph `--runs` times at `--batch` with the profiler on (after one untimed run),
and prints each op type's and the slowest nodes' share of the kernel time, with the node's output
shape: the table that says which rewrite is worth trying.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import tempfile
from pathlib import Path

import numpy as np


def profile(pkg: str, batch: int, runs: int, threads: int | None, optimized: str | None = None) -> dict:
    import onnxruntime as ort

    from zoo_runtime import providers as prov
    from zoo_runtime.latents import make_labels, make_latents
    from zoo_runtime.package import read_manifest

    m = read_manifest(pkg)
    so = prov.session_options(threads)
    so.enable_profiling = True
    tmp = tempfile.mkdtemp(prefix="zoo-profile-")
    so.profile_file_prefix = os.path.join(tmp, "run")
    if optimized:
        so.optimized_model_filepath = optimized
    sess = ort.InferenceSession(str(Path(pkg) / m["graph"]), so, providers=["CPUExecutionProvider"])
    feeds = {"z": make_latents(batch, m["latent_dim"], 0)}
    names = {i.name for i in sess.get_inputs()}
    if "labels" in names:
        feeds["labels"] = make_labels(batch, m["conditioning"]["num_classes"], 0)
    if "embeddings" in names:
        feeds["embeddings"] = np.full((batch, m["conditioning"]["text_dim"]), 0.05, np.float32)
    if "text_tokens" in names:  # a token-level text model: 6 of its tokens used, like a short prompt
        length, dim = m["conditioning"]["text_tokens"], m["conditioning"]["text_token_dim"]
        feeds["text_tokens"] = np.full((batch, length, dim), 0.05, np.float32)
        feeds["text_mask"] = np.arange(length)[None, :].repeat(batch, 0) < min(6, length)
    if "truncation" in names:
        feeds["truncation"] = np.ones(batch, np.float32)
    for _ in range(runs + 1):
        sess.run(None, feeds)
    events = json.loads(Path(sess.end_profiling()).read_text())
    by_op: collections.Counter = collections.Counter()
    by_node: collections.Counter = collections.Counter()
    shapes, ops = {}, {}
    first_run_done = False
    for e in events:
        if e.get("cat") == "Session" and e.get("name") == "model_run" and not first_run_done:
            first_run_done = True  # the warm-up run ends here; it is not counted
            continue
        if e.get("cat") != "Node" or not e["name"].endswith("_kernel_time") or not first_run_done:
            continue
        args = e.get("args", {})
        name = e["name"][: -len("_kernel_time")]
        by_op[args.get("op_name", "?")] += e["dur"]
        by_node[name] += e["dur"]
        ops[name] = args.get("op_name", "?")
        out = args.get("output_type_shape") or []
        shapes[name] = [list(o.values())[0] for o in out][:1]
    total = sum(by_op.values())
    return {
        "batch": batch,
        "runs": runs,
        "kernel_ms_per_run": total / runs / 1e3,
        "by_op": {k: v / total for k, v in by_op.most_common()},
        "by_node": [(k, ops[k], shapes.get(k), v / total) for k, v in by_node.most_common()],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("package")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--threads", type=int)
    p.add_argument("--top", type=int, default=12)
    p.add_argument("--optimized", help="also save ONNX Runtime's optimised graph here (to see its fusions)")
    args = p.parse_args()
    r = profile(args.package, args.batch, args.runs, args.threads, args.optimized)
    print(f"kernel time per run at batch {r['batch']}: {r['kernel_ms_per_run']:.1f} ms")
    print("\n| op type | share |\n|---|---|")
    for op, share in r["by_op"].items():
        if share >= 0.005:
            print(f"| {op} | {100 * share:.1f}% |")
    print("\n| node | op | output shape | share |\n|---|---|---|---|")
    for name, op, shape, share in r["by_node"][: args.top]:
        print(f"| {name} | {op} | {shape} | {100 * share:.1f}% |")


if __name__ == "__main__":
    main()
