"""The runtime's command line, for people without the zoo (and behind `zoo generate`):

    python -m zoo_runtime PKG -n 16 --seed 0 [--label 3] [--prompt "a red circle"] --out grid.png
    python -m zoo_runtime serve PKG [--port 8000]      (HTTP server: zoo_runtime.serve)

Imports stay minimal (argparse, numpy, onnxruntime, Pillow at the end): cold start is part of the job.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def parser(prog: str = "python -m zoo_runtime") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Generate images from a gan-zoo model package "
        "(zoo export's output) with ONNX Runtime; no PyTorch needed.",
        epilog=f"To serve a package over HTTP: {prog} serve --help",
    )
    p.add_argument("package", help="the model package folder (has manifest.json)")
    p.add_argument("-n", "--num", type=int, default=16, help="how many images (default: %(default)s)")
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="latent seed: the same seed gives the same images as `zoo sample "
        "--seed`, up to one grey level in a few pixels (default: %(default)s)",
    )
    p.add_argument("--label", help="class label(s) for class-conditional models: 3 or 0,1,2,...")
    p.add_argument(
        "--prompt", action="append", help="text prompt for text-conditional models (repeat for one per image)"
    )
    p.add_argument(
        "--truncation", type=float, default=1.0, help="truncation psi, for models that have it (default: %(default)s)"
    )
    p.add_argument(
        "--out",
        default="samples.png",
        help="output .png grid (or .jpg/.webp via Pillow), or .npy: uint8 [N, H, W, C] (default: %(default)s)",
    )
    p.add_argument("--nrow", type=int, help="images per grid row (default: square)")
    p.add_argument(
        "--providers", default="auto", help="auto (TensorRT, CUDA, CPU), cpu, cuda or tensorrt (default: %(default)s)"
    )
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="say why a GPU provider was skipped even under "
        "--providers auto (always said when one was asked for by name)",
    )
    p.add_argument("--threads", type=int, help="CPU threads (default: physical cores)")
    p.add_argument("--info", action="store_true", help="print the package's description and exit")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    return p


def _labels(text: str | None):
    if text is None:
        return None
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"--label takes integers like 3 or 0,1,2; got {text!r}") from None
    return values[0] if len(values) == 1 else values


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    if prog is None:  # `python -m zoo_runtime` or the `zoo-runtime` console script
        name = os.path.basename(sys.argv[0])
        prog = "python -m zoo_runtime" if name in ("__main__.py", "-c", "") else name
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["serve"]:  # a package folder named "serve" is still reachable as ./serve
        from zoo_runtime.serve import main as serve_main

        return serve_main(argv[1:], prog=f"{prog} serve")
    args = parser(prog).parse_args(argv)
    try:
        return _run(args)
    except (ValueError, RuntimeError, OSError) as e:  # bad input or a broken package: one clear line
        print(f"error: {e}", file=sys.stderr)
        return 2
    except MemoryError as e:
        print(f"error: out of memory ({e or 'allocation failed'}): ask for fewer images (-n)", file=sys.stderr)
        return 2


def _run(args) -> int:
    from zoo_runtime.generator import load

    if not args.info and not args.out.endswith(".npy"):
        from zoo_runtime.images import image_format_of

        image_format_of(args.out)  # a wrong --out fails now, not after generating
    if args.nrow is not None and args.nrow < 1:
        raise ValueError(f"--nrow must be at least 1, got {args.nrow}")
    t0 = time.perf_counter()
    gen = load(args.package, providers=args.providers, threads=args.threads)
    if args.verbose or args.providers != "auto":  # "auto" on a CPU machine is the normal case, not news
        for note in gen.provider_notes:
            print(f"note: {note}", file=sys.stderr)
    if args.info:
        info = gen.info
        if args.json:
            print(json.dumps(info, indent=2, default=str))
        else:
            for key, value in info.items():
                print(f"{key:>15}: {json.dumps(value, default=str) if isinstance(value, (dict, list)) else value}")
        return 0
    if args.prompt and (note := gen.unseen_note(args.prompt)):
        print(note, file=sys.stderr)
    t1 = time.perf_counter()
    images = gen.generate(
        args.num, seed=args.seed, labels=_labels(args.label), prompts=args.prompt, truncation=args.truncation
    )
    t2 = time.perf_counter()
    if args.out.endswith(".npy"):
        import numpy as np

        np.save(args.out, images)
    else:
        from zoo_runtime.images import save_png

        save_png(images, args.out, nrow=args.nrow)
    n, h, w, c = images.shape
    summary = {
        "out": args.out,
        "n": n,
        "height": h,
        "width": w,
        "channels": c,
        "model": gen.info["name"],
        "seed": args.seed,
        "provider": gen.provider,
        "load_ms": round((t1 - t0) * 1e3, 1),
        "generate_ms": round((t2 - t1) * 1e3, 1),
    }
    if args.json:
        print(json.dumps(summary))
    else:
        plural = "s" if n != 1 else ""
        print(
            f"wrote {args.out}: {n} image{plural} {h}x{w}x{c} from {summary['model']} (seed {args.seed}) on "
            f"{gen.provider} in {summary['generate_ms']} ms (load {summary['load_ms']} ms)"
        )
    return 0
