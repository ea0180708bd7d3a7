"""How far a text model's int8 package is from its fp32 package on real captions.

    python benchmarks/int8_prompts.py FP32_PKG INT8_PKG [--out benchmarks/results/int8_prompts]

Generates 16 images for each of eight fixed captions (seed i for caption i) with both packages through
zoo_runtime, prompts encoded by each package's own text encoder, and reports the mean absolute difference
of the uint8 images in [-1, 1] units (the parity gate's unit), per caption and overall; writes JSON and a
markdown table. The export's own check (manifest["parity"]["prompt_float_mean_abs"]) uses random runs of
the training vocabulary instead; these are the captions a person types.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

CAPTIONS = [
    "a red circle",
    "a small blue square on a white background",
    "a large green triangle",
    "yellow disc on black",
    "a tiny purple square",
    "a big white circle on a gray backdrop",
    "a black triangle",
    "a violet disc that is small",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("fp32", help="the fp32 package")
    parser.add_argument("int8", help="the int8 package of the same model")
    parser.add_argument("--out", default="benchmarks/results/int8_prompts", help="JSON and .md path stem")
    args = parser.parse_args()
    import zoo_runtime

    fp32, int8 = zoo_runtime.load(args.fp32, providers="cpu"), zoo_runtime.load(args.int8, providers="cpu")
    rows = []
    for i, caption in enumerate(CAPTIONS):
        a, b = (g.generate(16, seed=i, prompts=caption).astype(np.float64) for g in (fp32, int8))
        rows.append({"caption": caption, "mean_abs": float(np.abs(a - b).mean() / 127.5)})
    result = {
        "fp32": args.fp32,
        "int8": args.int8,
        "model": fp32.manifest["model"]["name"],
        "unit": "mean |int8 - fp32| of uint8 images / 127.5 ([-1, 1] units), 16 images per caption",
        "captions": rows,
        "mean_abs": float(np.mean([r["mean_abs"] for r in rows])),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [f"int8 against fp32 on captions, {result['model']} (`python benchmarks/int8_prompts.py`)", ""]
    lines += ["| caption | mean abs error |", "|---|---|"]
    lines += [f"| {r['caption']} | {r['mean_abs']:.4f} |" for r in rows]
    lines += [f"| **all** | **{result['mean_abs']:.4f}** |", ""]
    out.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
