"""R3GAN against DCGAN and StyleGAN2, side by side in one run: the same generator parameter budget
(~0.3M, within 1.5x), the same training time per run, 3 seeds, on builtin:shapes 32 px, builtin:shapes
64 px and builtin:digits (32 px, class-conditional like the shipped digits models).

Per run: train from scratch for --seconds (R3GAN with --recipe r3gan, whose ramps are set to the steps
the run reaches; DCGAN and StyleGAN2 with the default recipe). The clock is the run's own CPU time by
default (one torch thread per run, so on a quiet machine it is its wall time; on a shared one it stays
fair when other jobs come and go); --clock wall for a GPU. Then, on the EMA generator: FID in the best
feature space the zoo has for the data (the shapes classifier for shapes, the digits classifier for
digits) and in ImageNet features (EfficientNet-Lite0) as a second column; the classifier's confidence
(shapes: mean max-softmax over its 4 heads; digits: accuracy on the requested labels) on generated
against real images; training images/s; export parity (max abs diff, ONNX Runtime vs torch, from the
export's own check) and zoo_runtime's batch-64 images/s (1 thread). The shipped models of the same data
are scored in the same run, on the same sample counts.

    nice -n 10 python benchmarks/r3gan.py --seconds 40 --seeds 0 1 2 --workers 2 --work /tmp/r3gan-runs
writes benchmarks/results/r3gan.{json,md}; each finished run also lands in --work (a rerun skips it;
--report-only writes the report from the runs finished so far).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

DATASETS = {  # key: (source, resolution, best feature space, config for this data)
    "shapes32": ("builtin:shapes", 32, "shapes", dict(channels=3, conditioning="none")),
    "shapes64": ("builtin:shapes", 64, "shapes", dict(channels=3, conditioning="none")),
    "digits": ("builtin:digits", 32, "digits", dict(channels=1, conditioning="class", num_classes=10)),
}
# label: (architecture per resolution, config overrides, recipe options). Widths chosen so every
# generator holds 0.28M-0.44M parameters (the counts are measured and printed in the table).
ARCHS = {
    "r3gan": ({32: "r3gan32_small", 64: "r3gan64_small"}, {}, dict(preset="r3gan")),
    "dcgan": ({32: "dcgan32", 64: "dcgan64"}, {32: dict(width=12), 64: dict(width=8)}, {}),
    "stylegan2": (
        {32: "stylegan2_32", 64: "stylegan2_64"},
        {32: dict(width=16, max_channels=64), 64: dict(max_channels=64)},
        {},
    ),
}
SHIPPED = {
    "shapes32": ["dcgan32.shapes"],
    "shapes64": ["stylegan2_64.shapes"],
    "digits": ["dcgan32.digits", "stylegan2_32.digits"],
}
RESULTS = Path(__file__).parent / "results"
CACHE: dict = {}  # per worker process: real images, extractors and real features per data set


def arch_config(label: str, data: str) -> tuple[str, dict, dict]:
    names, configs, options = ARCHS[label]
    res = DATASETS[data][1]
    return names[res], {**DATASETS[data][3], **(configs.get(res, {}) if configs else {})}, options


# --- scoring ------------------------------------------------------------------------------------


def reals(data: str):
    if ("reals", data) not in CACHE:
        from zoo.data import load_dataset

        src, res, _, cfg = DATASETS[data]
        CACHE[("reals", data)] = load_dataset(src, res, cfg["channels"])
    return CACHE[("reals", data)]


def real_features(data: str, feature: str, n: int):
    """(extractor, real features [n, d]) for the first n real images (fixed across runs)."""
    key = ("features", data, feature, n)
    if key not in CACHE:
        import torch

        from zoo.metrics.features import extract_features, get_feature_extractor

        if ("extractor", feature) not in CACHE:
            CACHE[("extractor", feature)] = get_feature_extractor(feature)
        ext, images = CACHE[("extractor", feature)], reals(data).images
        idx = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))[:n]
        CACHE[key] = (ext, extract_features(ext, images[idx], 128, False).numpy())
    return CACHE[key]


def fid(data: str, feature: str, fakes, n_real: int) -> float:
    from zoo.metrics.features import extract_features
    from zoo.metrics.fid import fid_from_features

    ext, real = real_features(data, feature, n_real)
    return fid_from_features(real, extract_features(ext, fakes, 128, False).numpy())


def confidence(data: str, images, labels=None) -> dict:
    """shapes: mean max-softmax over the 4 heads and the share with every head >= 0.9;
    digits: the digits classifier's accuracy on `labels` and its mean max-softmax."""
    import torch

    with torch.no_grad():
        if DATASETS[data][2] == "shapes":
            from zoo.metrics.shapes_classifier import load_shapes_classifier, preprocess

            net = CACHE.get("shapes_classifier") or CACHE.setdefault("shapes_classifier", load_shapes_classifier())
            probs = [p.softmax(1).max(1).values for p in net(preprocess(images)).values()]  # 4 x [N]
            best = torch.stack(probs)  # [4, N]
            return {"confidence": float(best.mean()), "all_heads_sure": float((best >= 0.9).all(0).float().mean())}
        from zoo.metrics.digits_classifier import load_digits_classifier, preprocess

        net = CACHE.get("digits_classifier") or CACHE.setdefault("digits_classifier", load_digits_classifier())
        p = net(preprocess(images)).softmax(1)
        return {"confidence": float(p.max(1).values.mean()), "accuracy": float((p.argmax(1) == labels).float().mean())}


def sample_inputs(latent_dim: int, conditional: bool, n: int, seed: int):
    import torch

    g = torch.Generator().manual_seed(10_000 + seed)
    z = torch.randn(n, latent_dim, generator=g)
    return z, (torch.arange(n) % 10 if conditional else None)


def score(gan, data: str, args, seed: int, generate) -> dict:
    """Every quality and speed figure of one generator (a zoo.GAN; `generate(z, c)` gives its images)."""
    import torch

    _, _, feature, cfg = DATASETS[data]
    conditional = cfg["conditioning"] == "class"
    z, c = sample_inputs(gan.latent_dim, conditional, args.fid_samples, seed)
    fakes = generate(z, c)
    ds = reals(data)
    real_idx = torch.randperm(len(ds.images), generator=torch.Generator().manual_seed(1))[: args.fid_samples]
    real_conf = confidence(data, ds.images[real_idx], ds.labels[real_idx] if conditional else None)
    out = {
        "g_params": sum(p.numel() for p in gan.generator.parameters()),
        f"fid_{feature}": fid(data, feature, fakes, args.fid_samples),
        "fid_imagenet": fid(data, "imagenet", fakes[: args.imagenet_samples], args.imagenet_samples)
        if args.imagenet_samples
        else None,
        **{f"{k}_fake": v for k, v in confidence(data, fakes, c).items()},
        **{f"{k}_real": v for k, v in real_conf.items()},
    }
    out.update(export_and_run(gan, args))
    return out


def export_and_run(gan, args) -> dict:
    """Export parity from the export's own check, then zoo_runtime batch-64 images/s (1 thread, median of 3)."""
    import zoo
    import zoo_runtime

    with tempfile.TemporaryDirectory() as tmp:
        pkg = zoo.export(gan, Path(tmp) / "pkg", progress=False)
        parity = json.loads((pkg / "manifest.json").read_text())["parity"]
        gen = zoo_runtime.load(pkg, providers="cpu", threads=1)
        labels = 0 if gan.conditioning == "class" else None
        gen.generate(args.runtime_batch, seed=0, labels=labels)
        times = []
        for i in range(3):
            t = time.perf_counter()
            gen.generate(args.runtime_batch, seed=i + 1, labels=labels)
            times.append(time.perf_counter() - t)
    return {
        "export_max_abs": parity["float_max_abs"],
        "runtime_images_per_s": args.runtime_batch / statistics.median(times),
    }


# --- one run ------------------------------------------------------------------------------------


def train_run(data: str, label: str, seed: int, args) -> dict:
    """Train `label` on `data` from scratch for args.seconds on args.clock, then score it."""
    import dataclasses

    from zoo.model import GAN
    from zoo.training.builders import train_trainer
    from zoo.training.recipe import train_recipe

    arch, config, options = arch_config(label, data)
    src = DATASETS[data][0]
    with tempfile.TemporaryDirectory() as out:
        recipe = train_recipe(steps=10**6, batch_size=args.batch, seed=seed, eval_samples=0, **options)
        tr = train_trainer(
            arch, src, Path(out), recipe, config=config, device=args.device, progress=False, log=lambda *a: None
        )
        clock = time.process_time if args.clock == "cpu" else time.perf_counter
        t0, c0, done = time.perf_counter(), time.process_time(), 0
        while True:
            tr.set_lr(done)
            tr.train_step(done)
            done += 1
            spent = clock() - (c0 if args.clock == "cpu" else t0)
            if done == 3:  # the ramps (r3gan schedule) end where this run will: at its estimated step count
                tr.recipe = dataclasses.replace(tr.recipe, steps=max(done, int(args.seconds / (spent / done))))
            if spent >= args.seconds:
                break
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        gan = GAN(tr.model.spec, tr.model.config, tr.ema.model.eval().cpu(), tr.D.cpu())
        row = {"steps": done, "seconds": elapsed, "cpu_seconds": cpu, "train_images_per_s": done * args.batch / elapsed}
        row["train_images_per_cpu_s"] = done * args.batch / cpu
        row.update(score(gan, data, args, seed, batched(gan)))
    return {"data": data, "model": label, "arch": arch, "config": config, "seed": seed, **row}


def shipped_run(data: str, name: str, args) -> dict:

    import zoo

    gan = zoo.create_model(name, pretrained=True).eval()
    return {
        "data": data,
        "model": f"shipped {name}",
        "arch": name,
        "seed": 0,
        **score(gan, data, args, 0, batched(gan)),
    }


def batched(gan):
    """generate(z, c): the generator's images on the CPU, 256 at a time."""
    import torch

    def generate(z, c):
        with torch.no_grad():
            return torch.cat(
                [gan.generator(z[i : i + 256], None if c is None else c[i : i + 256]) for i in range(0, len(z), 256)]
            )

    return generate


def worker(job: tuple, args) -> dict:
    import torch

    torch.set_num_threads(1)
    path = Path(args.work) / ("-".join(str(j) for j in job).replace(" ", "_") + ".json")
    if path.exists():
        return json.loads(path.read_text())
    t = time.perf_counter()
    row = shipped_run(job[1], job[2], args) if job[0] == "shipped" else train_run(job[1], job[2], job[3], args)
    row["job_seconds"] = time.perf_counter() - t
    row["load_average"] = os.getloadavg()[0]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(row, indent=1))
    tmp.replace(path)
    print(f"done {job} in {row['job_seconds']:.0f} s", flush=True)
    return row


def jobs(args) -> list[tuple]:
    # data set by data set (a cut-short run still has every seed of the first), seed-major within one,
    # so that runs side by side in time mix architectures; then the shipped models of that data
    out = []
    for d in args.data:
        out += [("train", d, m, s) for s in args.seeds for m in args.models]
        out += [("shipped", d, n) for n in SHIPPED[d]] if args.shipped else []
    return out


# --- the report ---------------------------------------------------------------------------------


def summary(rows: list[dict]) -> list[dict]:
    """One line per (data, model): mean and sample std over seeds of every number."""
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["data"], r["model"]), []).append(r)
    out = []
    for (data, model), rs in groups.items():
        line = {"data": data, "model": model, "arch": rs[0]["arch"], "seeds": len(rs)}
        for k, v in rs[0].items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "seed":
                vals = [float(r[k]) for r in rs if r.get(k) is not None]
                line[k] = (statistics.mean(vals), statistics.stdev(vals) if len(vals) > 1 else 0.0)
        if "export_max_abs" in line:
            line["export_max_abs_worst"] = max(float(r["export_max_abs"]) for r in rs)
        out.append(line)
    return out


def fmt(v, digits: int = 1) -> str:
    if v is None:
        return "-"
    mean, spread = v
    return f"{mean:.{digits}f} ± {spread:.{digits}f}" if spread else f"{mean:.{digits}f}"


def markdown(result: dict) -> str:
    a = result["args"]
    lines = [
        f"# R3GAN vs DCGAN vs StyleGAN2: {a['seconds']:g} {a['clock']} seconds of training each, seeds {a['seeds']}, "
        f"batch {a['batch']}",
        "",
        f"Command: `{result['command']}`  ",
        f"Machine: {result['machine']}; load average {result['load_average'][0]:.1f}-{result['load_average'][1]:.1f} "
        f"at the ends of the runs; about {result['total_minutes']:.0f} min in all.",
        "",
        f"Mean ± sample std over seeds. FID: {a['fid_samples']} generated against {a['fid_samples']} real "
        f"images (ImageNet: {a['imagenet_samples']}); lower is better, only comparable within a column. "
        "conf: the classifier's mean max-softmax (shapes: over its 4 heads; 'sure': all 4 heads >= 0.9); "
        "digits acc: the digits classifier agrees with the requested label. Parity: max abs diff ONNX Runtime "
        f"vs torch (worst over seeds). Runtime: zoo_runtime, batch {a['runtime_batch']}, 1 thread.",
    ]
    for data in a["data"]:
        feature = DATASETS[data][2]
        extra = "sure fake / real" if feature == "shapes" else "acc fake / real"
        lines += [
            "",
            f"## {data} ({DATASETS[data][0]}, {DATASETS[data][1]} px)",
            "",
            f"| model | G params | steps | train img/s (wall / CPU) | FID ({feature}) | FID (ImageNet) | conf fake / real | {extra} "
            "| parity | runtime img/s |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for s in (s for s in result["summary"] if s["data"] == data):
            k2 = "all_heads_sure" if feature == "shapes" else "accuracy"
            name = s["model"] if s["model"].startswith("shipped") else f"{s['model']} (`{s['arch']}`)"
            lines.append(
                f"| {name} | {s['g_params'][0] / 1e6:.2f}M | {fmt(s.get('steps'), 0)} "
                f"| {fmt(s.get('train_images_per_s'))} / {fmt(s.get('train_images_per_cpu_s'))} "
                f"| {fmt(s.get(f'fid_{feature}'))} | {fmt(s.get('fid_imagenet'))} "
                f"| {fmt(s['confidence_fake'], 2)} / {s['confidence_real'][0]:.2f} "
                f"| {fmt(s[k2 + '_fake'], 2)} / {s[k2 + '_real'][0]:.2f} "
                f"| {s['export_max_abs_worst']:.1e} | {fmt(s['runtime_images_per_s'], 0)} |"
            )
    return "\n".join(lines) + "\n"


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=40, help="training time per run, on --clock")
    p.add_argument(
        "--clock",
        choices=["cpu", "wall"],
        default="cpu",
        help="cpu: this process's CPU time (fair on a shared machine; equals wall time on a quiet one with 1 "
        "thread per run); wall: wall time (use it on a GPU)",
    )
    p.add_argument("--device", default="cpu", help="where runs train (e.g. cuda); scoring runs on the CPU")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--data", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    p.add_argument("--models", nargs="+", default=list(ARCHS), choices=list(ARCHS))
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--fid-samples", type=int, default=500)
    p.add_argument("--imagenet-samples", type=int, default=100, help="0: no ImageNet FID")
    p.add_argument("--runtime-batch", type=int, default=64)
    p.add_argument("--workers", type=int, default=2, help="processes side by side (1 thread each)")
    p.add_argument("--report-only", action="store_true", help="write the report from the runs finished in --work")
    p.add_argument("--no-shipped", dest="shipped", action="store_false", help="skip scoring the shipped models")
    p.add_argument("--work", default=None, help="folder of finished runs (default: a new temporary one)")
    p.add_argument("--out", default=str(RESULTS / "r3gan"), help="writes OUT.json and OUT.md")
    args = p.parse_args(argv)
    args.work = args.work or tempfile.mkdtemp(prefix="r3gan-bench-")
    start = time.perf_counter()
    todo = jobs(args)
    if args.report_only:
        names = {p.stem for p in Path(args.work).glob("*.json")}
        todo = [j for j in todo if "-".join(str(x) for x in j).replace(" ", "_") in names]
    if args.workers > 1:
        import multiprocessing as mp
        from functools import partial

        with mp.get_context("spawn").Pool(args.workers) as pool:
            rows = list(pool.imap(partial(worker, args=args), todo, chunksize=1))
    else:
        rows = [worker(j, args) for j in todo]
    import torch

    result = {
        "command": "nice -n 10 python benchmarks/r3gan.py "
        + " ".join(a for a in (argv if argv is not None else sys.argv[1:]) if a != "--report-only"),
        "args": {k: v for k, v in vars(args).items() if k not in ("work", "out")},
        "machine": f"{os.cpu_count()} logical CPUs ({platform.machine()}), torch {torch.__version__}",
        "load_average": [min(r["load_average"] for r in rows), max(r["load_average"] for r in rows)],
        "total_minutes": sum(r["job_seconds"] for r in rows) / 60 / args.workers
        if args.report_only
        else (time.perf_counter() - start) / 60,
        "runs": rows,
        "summary": summary(rows),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))
    return result


if __name__ == "__main__":
    main()
