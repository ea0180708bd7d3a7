"""Metrics: how long `zoo eval` takes, what the numbers look like, and agreement with torch-fidelity.

    python benchmarks/metrics_eval.py [--n 2000] [--model FILE_OR_NAME]
    PYTHONPATH=/path/to/torch-fidelity python benchmarks/metrics_eval.py   # also cross-check torch-fidelity

Writes benchmarks/results/metrics_eval.json and .md. Without --model, times a freshly initialised
dcgan32 (digits config) saved to a temporary file: the time does not depend on the weights.
torch-fidelity is optional (`pip install --no-deps --target DIR torch-fidelity` is enough: only its
metric functions are used, on the same features).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

RESULTS = Path(__file__).parent / "results"


def time_cli(model: str, data: str, n: int) -> tuple[float, float, dict]:
    """(wall s, CPU s of the child: user + sys, result). CPU time says more on a shared machine."""
    import resource

    cmd = [sys.executable, "-m", "zoo", "eval", model, "--data", data, "--n", str(n), "--json"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, json.loads(out)


def reference_points() -> dict:
    """FID/KID in the digits feature space for pairs of real data: the noise floor and a far pair."""
    from zoo.data import load_dataset
    from zoo.metrics import FIDTracker

    digits = load_dataset("builtin:digits", 32, 1).images
    perm = torch.randperm(len(digits), generator=torch.Generator().manual_seed(0))
    a, b = digits[perm[:898]], digits[perm[898:]]
    tracker = FIDTracker(a, progress=False)
    shapes = load_dataset("builtin:shapes", 32, 1, n=899).images
    return {
        "digits_half_vs_half": tracker(b),
        "digits_vs_shapes": tracker(shapes),
        "_features": (tracker.real_features, tracker.features(b).numpy(), tracker.features(shapes).numpy()),
    }


def torch_fidelity_check(f_real: np.ndarray, f_other: np.ndarray) -> dict | None:
    try:
        import torch_fidelity.metric_fid as tf_fid
        import torch_fidelity.metric_kid as tf_kid
    except ImportError:
        return None
    from zoo.metrics import fid_from_features, kid_from_features
    from zoo.metrics.fid import feature_stats

    m = min(len(f_real), len(f_other)) // 2
    (mu1, s1), (mu2, s2) = feature_stats(f_real), feature_stats(f_other)
    theirs_fid = tf_fid.fid_statistics_to_metric({"mu": mu1, "sigma": s1}, {"mu": mu2, "sigma": s2}, verbose=False)
    theirs_kid = tf_kid.kid_features_to_metric(
        torch.from_numpy(f_real),
        torch.from_numpy(f_other),
        kid_subsets=100,
        kid_subset_size=m,
        kid_degree=3,
        kid_gamma=None,
        kid_coef0=1,
        rng_seed=2020,
        verbose=False,
    )
    ours_kid = kid_from_features(f_real, f_other, subsets=100, subset_size=m)
    return {
        "torch_fidelity_version": getattr(sys.modules.get("torch_fidelity"), "__version__", "?"),
        "fid_ours": fid_from_features(f_real, f_other),
        "fid_torch_fidelity": theirs_fid["frechet_inception_distance"],
        "kid_ours": list(ours_kid),
        "kid_torch_fidelity": [
            theirs_kid["kernel_inception_distance_mean"],
            theirs_kid["kernel_inception_distance_std"],
        ],
        "subset_size": m,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--model", help="weights file or tagged name (default: a fresh dcgan32, digits config)")
    args = p.parse_args()
    torch.set_num_threads(2)
    import zoo
    from zoo.metrics.digits_classifier import read_classifier_metadata

    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if model is None:
            torch.manual_seed(0)
            model = str(
                zoo.save(
                    zoo.create_model("dcgan32", channels=1, conditioning="class", num_classes=10),
                    Path(tmp) / "dcgan32-digits-config.safetensors",
                )
            )
        wall_digits, cpu_digits, res_digits = time_cli(model, "builtin:digits", args.n)
        shapes_model = str(zoo.save(zoo.create_model("dcgan32"), Path(tmp) / "dcgan32.safetensors"))
        wall_shapes, cpu_shapes, res_shapes = time_cli(shapes_model, "builtin:shapes", args.n)
    ref = reference_points()
    f_real, f_half, f_shapes = ref.pop("_features")
    tf = {"half_vs_half": torch_fidelity_check(f_real, f_half), "vs_shapes": torch_fidelity_check(f_real, f_shapes)}
    meta = read_classifier_metadata()
    out = {
        "digits_classifier": {"held_out_accuracy": meta["held_out_accuracy"], "split": meta["split"]},
        "zoo_eval": [
            {
                "command": f"zoo eval MODEL --data builtin:digits --n {args.n} --json",
                "wall_s": round(wall_digits, 2),
                "cpu_s": round(cpu_digits, 2),
                "result": res_digits,
            },
            {
                "command": f"zoo eval MODEL --data builtin:shapes --n {args.n} --json",
                "wall_s": round(wall_shapes, 2),
                "cpu_s": round(cpu_shapes, 2),
                "result": res_shapes,
            },
        ],
        "reference_points": ref,
        "torch_fidelity": tf,
        "machine": {
            "torch_threads": torch.get_num_threads(),
            "cuda": torch.cuda.is_available(),
            "cpus": os.cpu_count(),
            "load_average_1m_at_end": os.getloadavg()[0],
        },
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "metrics_eval.json").write_text(json.dumps(out, indent=2, default=float) + "\n")
    lines = [
        f"# Metrics (feature space: digits classifier, held-out accuracy {meta['held_out_accuracy']:.4f})",
        "",
        f"(load average {out['machine']['load_average_1m_at_end']:.1f} on {out['machine']['cpus']} CPUs)",
        "",
        "| what | wall (s) | CPU (s) | FID | KID | random-weights FID |",
        "|---|---|---|---|---|---|",
    ]
    for row in out["zoo_eval"]:
        r = row["result"]
        lines.append(
            f"| `{row['command']}` (untrained dcgan32) | {row['wall_s']:.1f} | {row['cpu_s']:.1f} | {r['fid']:.1f} | "
            f"{r['kid_mean']:.3f} ± {r['kid_std']:.3f} | {r['baseline_random']['fid']:.1f} |"
        )
    for name, s in ref.items():
        lines.append(
            f"| {name.replace('_', ' ')} (~900 vs ~900) | | | {s['fid']:.2f} | {s['kid']:.4f} ± {s['kid_std']:.4f} | |"
        )
    for name, c in tf.items():
        if c:
            lines.append(
                f"| torch-fidelity {c['torch_fidelity_version']} on the same features, {name} | | | "
                f"{c['fid_torch_fidelity']:.6f} (ours {c['fid_ours']:.6f}) | "
                f"{c['kid_torch_fidelity'][0]:.6f} (ours {c['kid_ours'][0]:.6f}) | |"
            )
    (RESULTS / "metrics_eval.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
