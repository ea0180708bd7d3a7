"""The `zoo` command line. Each command imports torch (and the rest) only when it runs, so that
`zoo --help` and `zoo list` stay fast.
"""
from __future__ import annotations

import json
import os
import sys

import click


def print_table(rows: list[dict], columns: list[str]) -> None:
    """A plain aligned table a person can read."""
    cells = [[str(c).upper() for c in columns]] + [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value)) or "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def echo_json(data) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def fail(message: str) -> None:
    """Exit with a one-paragraph error, no traceback (ZOO_DEBUG=1 shows it)."""
    raise click.ClickException(message)


def _check_device(ctx, param, value: str | None) -> str | None:
    """--device names a torch device; checked here, without importing torch, so a typo gets one line."""
    import re

    if value is not None and not re.fullmatch(r"cpu|cuda(:\d+)?|mps|xpu(:\d+)?", value):
        raise click.BadParameter(f"{value!r} is not a device: use cpu, cuda, cuda:N or mps")
    return value


def _set_threads(ctx, param, value: int | None) -> None:
    if value is not None:
        import torch

        torch.set_num_threads(value)


class ZooGroup(click.Group):
    """Turns the zoo's own error types into clean messages instead of tracebacks."""

    def invoke(self, ctx):
        import warnings

        # a person reads these: "warning: <message>", not a source line of the zoo
        warnings.formatwarning = lambda message, category, *rest: f"warning: {message}\n"
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort, KeyboardInterrupt):
            raise
        except (ValueError, KeyError, FileNotFoundError, RuntimeError, OSError) as e:
            if os.environ.get("ZOO_DEBUG") == "1":
                raise
            raise click.ClickException(f"{type(e).__name__}: {e}") from e
        except MemoryError as e:
            raise click.ClickException(f"out of memory ({e or 'allocation failed'}): ask for fewer images (-n) "
                                       "or a smaller --batch") from e


@click.group(cls=ZooGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gan-zoo")
def main() -> None:
    """gan-zoo: pretrained GANs, fine-tuning, ONNX export and a torch-free runtime."""


@main.command("list")
@click.argument("pattern", required=False)
@click.option("--pretrained", is_flag=True, help="Only models with weights, named arch.tag.")
@click.option("--conditioning", type=click.Choice(["none", "class", "text"]), help="Filter by conditioning.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_cmd(pattern: str | None, pretrained: bool, conditioning: str | None, as_json: bool) -> None:
    """List registered models (PATTERN is an fnmatch pattern like 'dcgan*')."""
    from zoo.registry import model_infos

    rows = [r for r in model_infos(pattern, pretrained=pretrained)
            if conditioning is None or r["conditioning"] == conditioning]
    if as_json:
        echo_json(rows)
        return
    print_table(rows, ["name", "family", "resolution", "channels", "latent_dim", "conditioning", "tags", "source"])


@main.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins_cmd(as_json: bool) -> None:
    """Show each plugin (models and text encoders): its distribution, and whether it loaded."""
    from dataclasses import asdict

    from zoo.registry import plugin_statuses

    rows = [asdict(p) for p in plugin_statuses()]
    if as_json:
        echo_json(rows)
        return
    if not rows and os.environ.get("GAN_ZOO_DISABLE_PLUGINS") == "1":
        click.echo("plugin discovery is off (GAN_ZOO_DISABLE_PLUGINS=1): unset it to load installed plugins")
        return
    if not rows:
        click.echo("no plugins installed (entry-point groups gan_zoo.models, gan_zoo.text_encoders)")
        return
    print_table(rows, ["group", "name", "distribution", "status", "error"])


@main.command("info")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
def info_cmd(name: str, as_json: bool) -> None:
    """Show a model's spec, config and weights (a name, a .safetensors file or a run directory)."""
    from zoo.sources import locate_source

    try:
        located = locate_source(name, fast=True)
    except FileNotFoundError as e:
        fail(str(e))
    if located.kind == "file":
        from zoo.weights import read_metadata

        data = read_metadata(located.weights)  # refuses pickles and files that are not the zoo's, saying why
    else:
        from zoo.weights import expected_sha256

        spec, tag = located.spec, located.tag
        data = {"name": name, "family": spec.family, "description": spec.description, "source": spec.source,
                "config": spec.config_of(tag),
                "pretrained": {t: {"url": w.url, "sha256": expected_sha256(w), "license": w.license}
                               for t, w in spec.pretrained.items()}}
    if as_json:
        echo_json(data)
        return
    for key, value in data.items():
        click.echo(f"{key:>12}: {json.dumps(value) if isinstance(value, (dict, list)) else value}")


# --- training: zoo train / zoo finetune / zoo sample (owner: training) ------------------------


def _parse_config(pairs: tuple[str, ...]) -> dict:
    """`key=value` pairs; values are JSON when they parse (numbers, lists), else strings."""
    config = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            fail(f"--config takes key=value, got {pair!r}")
        try:
            config[key] = json.loads(value)
        except ValueError:
            config[key] = value
    return config


def _training_options(f):
    """Options shared by `zoo train` and `zoo finetune` (defaults None: the recipe's default)."""
    options = [
        click.option("--data", help="builtin:digits, builtin:shapes, a folder of images or a pixel CSV."),
        click.option("--out", type=click.Path(file_okay=False), help="Run directory (samples, metrics, checkpoints, model)."),
        click.option("--steps", type=click.IntRange(min=1), help="Training steps (the run's total, also when resuming)."),
        click.option("--batch", "batch_size", type=click.IntRange(min=1),
                     help="Global batch size (split across torchrun processes)."),
        click.option("--lr", type=float, help="Learning rate of G (and D unless --lr-d)."),
        click.option("--lr-d", type=float, help="Learning rate of D."),
        click.option("--loss", type=click.Choice(["logistic", "hinge"]), help="Adversarial loss."),
        click.option("--r1", type=float, help="R1 penalty weight gamma (0 disables)."),
        click.option("--ema-kimg", type=float, help="EMA half-life in thousands of images."),
        click.option("--warmup", type=int, help="Learning-rate warm-up steps."),
        click.option("--augment", type=click.Choice(["none", "diffaug", "ada"]), help="D-side augmentation."),
        click.option("--condition", help="auto (finetune default) | keep | none | class[:N] | text:ENCODER"),
        click.option("--sample-every", type=int, help="Write a sample grid every K steps."),
        click.option("--checkpoint-every", type=int, help="Write a checkpoint every K steps."),
        click.option("--log-every", type=int, help="Append to metrics.jsonl every K steps."),
        click.option("--eval-every", type=int, help="FID/KID every K steps (0: at the end only)."),
        click.option("--eval-samples", type=int, help="Generated images per FID/KID (0: no FID/KID)."),
        click.option("--seed", type=click.IntRange(min=0), help="Random seed (same seed, same run)."),
        click.option("--amp", is_flag=True, default=None, help="bf16 autocast + channels-last (for GPUs)."),
        click.option("--device", callback=_check_device, help="cpu, cuda, cuda:1 (default: cuda when available)."),
        click.option("--threads", type=click.IntRange(min=1), callback=_set_threads, expose_value=False,
                     help="CPU threads for torch (default: torch's). On a machine shared with other jobs, 1 avoids "
                          "threads spinning against each other."),
        click.option("--d-backbone", help="Use a pretrained-feature discriminator, e.g. timm:resnet18."),
        click.option("--d-backbone-weights", type=click.Path(dir_okay=False), help="Local weights for --d-backbone."),
        click.option("--resume", type=click.Path(file_okay=False), help="Continue the run in this directory."),
        click.option("--overwrite", is_flag=True, help="Replace an earlier run in --out (default: refuse)."),
        click.option("--no-progress", is_flag=True, help="No progress bar."),
        click.option("--json", "as_json", is_flag=True, help="Print the result as JSON."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _recipe_kwargs(kwargs: dict) -> dict:
    if kwargs.get("amp"):
        kwargs["channels_last"] = True
    return {k: v for k, v in kwargs.items() if v is not None}


def _notes_to_stderr(as_json: bool):
    """With --json, stdout carries only the JSON: the training's notes and reports go to stderr."""
    import contextlib

    return contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext()


def _report_run(model, out: str, as_json: bool) -> None:
    from pathlib import Path

    out_dir = Path(out)
    metrics = []
    if (out_dir / "metrics.jsonl").exists():
        metrics = [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    last = metrics[-1] if metrics else {}
    samples = sorted((out_dir / "samples").glob("step-*.png"))
    result = {"model": str(out_dir / "model.safetensors"), "checkpoint": str(out_dir / "checkpoint.safetensors"),
              "samples": str(samples[-1]) if samples else None, "metrics": str(out_dir / "metrics.jsonl"),
              "last": last, "parent": model.metadata.get("parent") or None}
    if as_json:
        echo_json(result)
        return
    rows = [{"what": k, "value": v} for k, v in result.items() if k != "last"]
    rows += [{"what": k, "value": v} for k, v in last.items()]
    print_table(rows, ["what", "value"])


@main.command("train")
@click.argument("arch", required=False)
@_training_options
@click.option("--config", "config_pairs", multiple=True, help="Config override key=value (repeatable), e.g. width=16.")
def train_cmd(arch, data, out, resume, overwrite, no_progress, as_json, device, condition, config_pairs,
              **kwargs) -> None:
    """Train ARCH from scratch on --data; writes samples, metrics, checkpoints and model.safetensors to --out.

    Example: zoo train dcgan32 --data builtin:digits --condition class --config channels=1 --out runs/digits
    """
    import zoo

    if resume is None and not (arch and data and out):
        fail("zoo train needs ARCH, --data and --out (or --resume RUN_DIR)")
    with _notes_to_stderr(as_json):
        model = zoo.train(arch, data, out, config=_parse_config(config_pairs) or None, condition=condition,
                          resume=resume, overwrite=overwrite, device=device, progress=not no_progress,
                          **_recipe_kwargs(kwargs))
    _report_run(model, out or resume, as_json)


@main.command("finetune")
@click.argument("source", required=False)
@_training_options
@click.option("--freeze-d", type=int, help="Freeze the first K discriminator blocks (FreezeD).")
@click.option("--freeze-g", type=int, help="Freeze the first K generator blocks (a mapping network counts as one).")
@click.option("--l2sp", type=float, help="L2-SP strength: pull trained weights toward the source's.")
@click.option("--ewc", type=float, help="EWC strength: L2-SP weighted by the source generator's Fisher information.")
def finetune_cmd(source, data, out, resume, overwrite, no_progress, as_json, device, **kwargs) -> None:
    """Fine-tune SOURCE (a tagged name, a .safetensors file or a run directory) on --data.

    The defaults are a recipe for a small dataset (FreezeD 1, DiffAugment, warm-up, EMA):
    zoo finetune dcgan32.digits --data ./my_images --out runs/x
    Under torchrun (torchrun --nproc_per_node 2 -m zoo finetune ...) --batch is the global batch,
    split evenly across processes; only rank 0 writes files.
    """
    import zoo

    if resume is None and not (source and data and out):
        fail("zoo finetune needs SOURCE, --data and --out (or --resume RUN_DIR)")
    with _notes_to_stderr(as_json):
        model = zoo.finetune(source, data, out, resume=resume, overwrite=overwrite, device=device,
                             progress=not no_progress, **_recipe_kwargs(kwargs))
    import os

    if int(os.environ.get("RANK", "0")) == 0:
        _report_run(model, out or resume, as_json)


@main.command("sample")
@click.argument("model_name")
@click.option("-n", "--num", "n", type=click.IntRange(min=1), default=64, show_default=True, help="Number of images.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Same seed, same images.")
@click.option("--label", help="Class label for every image, or a comma list (class-conditional models).")
@click.option("--prompt", help="Text prompt (text-conditional models).")
@click.option("--truncation", type=float, default=1.0, show_default=True, help="Truncation psi (models with the trick).")
@click.option("--nrow", type=click.IntRange(min=1), help="Images per row (default: square).")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Image file to write (.png, or .jpg/.webp).")
@click.option("--device", callback=_check_device, help="cpu or cuda (default: cpu).")
@click.option("--json", "as_json", is_flag=True)
def sample_cmd(model_name, n, seed, label, prompt, truncation, nrow, out, device, as_json) -> None:
    """Write a PNG grid of n samples from MODEL_NAME (a tagged name, a .safetensors file or a run directory)."""
    import zoo
    from zoo.images import save_grid

    from zoo_runtime.images import image_format_of

    image_format_of(out)  # a wrong --out fails now, not after loading and generating
    model = zoo.resolve_source(model_name)
    if device:
        model = model.to(device)
    labels = None
    if label is not None:
        try:
            labels = [int(v) for v in label.split(",")]
        except ValueError:
            fail(f"--label takes an integer or a comma list of integers, got {label!r}")
        labels = labels[0] if len(labels) == 1 else labels
    images = model.sample(n, seed=seed, labels=labels, prompts=prompt, truncation=truncation)
    path = save_grid(images, out, nrow=nrow)
    info = {"out": str(path), "model": model.name, "n": n, "seed": seed, "shape": list(images.shape)}
    if as_json:
        echo_json(info)
    else:
        click.echo(f"wrote {n} samples of {model.name} (seed {seed}) to {path}")


# --- zoo eval: one function per --metric; add a metric by adding a function and an entry -------


def _eval_fid_kid(model_name: str, data: str, opts: dict) -> dict:
    from zoo.metrics import evaluate

    return evaluate(model_name, data, n=opts["n"], feature=opts["feature"], seed=opts["seed"],
                    batch_size=opts["batch_size"], baseline=opts["baseline"], weights=opts["weights"],
                    device=opts["device"], progress=opts["progress"])


def _print_fid_kid(r: dict) -> None:
    click.echo(f"{r['model']} on {r['data']}: {r['n']} generated vs {r['n_real']} real images, "
               f"feature space {r['feature']}, {r['seconds']:.1f} s")
    rows = [{"generator": r["model"], "fid": r["fid"], "kid": f"{r['kid_mean']:.4g} ± {r['kid_std']:.2g}"}]
    if "baseline_random" in r:
        b = r["baseline_random"]
        rows.append({"generator": "random weights (same arch)", "fid": b["fid"],
                     "kid": f"{b['kid_mean']:.4g} ± {b['kid_std']:.2g}"})
    print_table(rows, ["generator", "fid", "kid"])
    click.echo("lower is better; the random-weights row is what an untrained generator scores")


def _eval_text_alignment(model_name: str, data: str, opts: dict) -> dict:  # owner: text conditioning
    from zoo.metrics.text_alignment import text_alignment

    if data != "builtin:shapes":
        raise ValueError(f"--metric text-alignment checks generated images against the known attributes of "
                         f"builtin:shapes captions: use --data builtin:shapes (got {data!r})")
    return text_alignment(model_name, n=opts["n"], seed=opts["seed"], baseline=opts["baseline"],
                          device=opts["device"], progress=opts["progress"])


def _print_text_alignment(r: dict) -> None:
    from zoo.metrics.text_alignment import rows

    click.echo(f"{r['model']} (text encoder {r['text_encoder']}): attribute accuracy of the shapes classifier "
               f"(held-out accuracy {r['classifier']['held_out_accuracy']}), {r['n_per_set']} images per caption set, "
               f"{r['seconds']:.1f} s")
    print_table(rows(r), ["images", "captions", "colour", "shape", "size", "background", "all"])
    click.echo(f"seen: combinations in training; held_out: (colour, shape) combinations never trained on "
               f"{[' '.join(c) for c in r['held_out_combos']]}; all = colour, shape and size right")


_EVAL_METRICS = {"fid-kid": (_eval_fid_kid, _print_fid_kid),  # --metric NAME -> (compute, print)
                 "text-alignment": (_eval_text_alignment, _print_text_alignment)}


@main.command("eval")
@click.argument("model_name")
@click.option("--data", required=True, help="builtin:digits, builtin:shapes, a folder of images or a pixel CSV.")
@click.option("--metric", type=click.Choice(sorted(_EVAL_METRICS)), default="fid-kid", show_default=True)
@click.option("-n", "--n", "n", type=int, default=2000, show_default=True, help="Generated (and at most real) images.")
@click.option("--feature", default="digits", show_default=True, help="Feature space: digits, shapes, timm:NAME, or a registered one.")
@click.option("--weights", type=click.Path(dir_okay=False), help="Weights of the feature network (timm:NAME needs it).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--batch-size", type=int, default=256, show_default=True)
@click.option("--no-baseline", is_flag=True, help="Skip the random-weights baseline (half the time).")
@click.option("--device", callback=_check_device, help="cpu or cuda (default: cuda when available).")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def eval_cmd(model_name, data, metric, n, feature, weights, seed, batch_size, no_baseline, device, no_progress,
             as_json) -> None:
    """Score MODEL_NAME (a tagged name, a .safetensors file or a run directory) against --data."""
    if n < 2:
        fail(f"-n must be at least 2, got {n}")
    compute, show = _EVAL_METRICS[metric]
    opts = dict(n=n, feature=feature, weights=weights, seed=seed, batch_size=batch_size, baseline=not no_baseline,
                device=device, progress=False if no_progress or as_json else None)
    result = compute(model_name, data, opts)
    if as_json:
        echo_json(result)
    else:
        show(result)


# --- zoo export / zoo generate (owner: export and runtime) -----------------------------------


@main.command("export")
@click.argument("name_or_file")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Package folder (or Triton repository) to write.")
@click.option("--opset", type=int, default=18, show_default=True, help="ONNX opset (>= 18).")
@click.option("--precision", type=click.Choice(["fp32", "fp16", "int8"]), default="fp32", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["onnx", "triton"]), default="onnx", show_default=True,
              help="onnx: a model package for zoo_runtime; triton: a Triton Inference Server model repository.")
@click.option("--config", "config_pairs", multiple=True, metavar="KEY=VALUE",
              help="Config override when exporting an architecture by name (repeatable).")
@click.option("--quality-data", help="int8: also measure the FID change against this data (e.g. builtin:digits).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
def export_cmd(name_or_file, out, opset, precision, fmt, config_pairs, quality_data, no_progress, as_json) -> None:
    """Export NAME_OR_FILE (arch.tag, a .safetensors file or a run folder) to a verified ONNX package."""
    from zoo.exporting import export
    from zoo_runtime.package import read_manifest

    pkg = export(name_or_file, out, opset=opset, precision=precision, format=fmt, quality_data=quality_data,
                 progress=False if no_progress or as_json else None, **_parse_config(config_pairs))
    manifest = read_manifest(pkg)
    if as_json:
        echo_json({"package": str(pkg), **manifest})
        return
    p = manifest["parity"]
    size = sum(f["bytes"] for f in manifest["files"].values())
    click.echo(f"wrote {pkg} ({size / 1e6:.2f} MB): {manifest['model']['name']}, {precision}, opset {opset}, "
               f"{manifest['conditioning']['kind']} conditioning, output uint8 NHWC "
               f"{manifest['image']['height']}x{manifest['image']['width']}x{manifest['image']['channels']}")
    print_table([{"check": "float max |onnx - torch|", "value": p["float_max_abs"],
                  "tolerance": p["tolerance"].get("float_max_abs")},
                 {"check": "float mean |onnx - torch|", "value": p["float_mean_abs"],
                  "tolerance": p["tolerance"].get("float_mean_abs")},
                 {"check": "uint8 max level difference", "value": p["uint8_max_levels"],
                  "tolerance": p["tolerance"].get("uint8_max_levels")},
                 {"check": "uint8 pixels differing", "value": p["uint8_mismatch_fraction"], "tolerance": None}],
                ["check", "value", "tolerance"])
    if "quality" in manifest:
        q = manifest["quality"]
        shown = {k: v for k, v in q.items() if k.startswith(("fid", "pixel"))}
        click.echo("int8 quality cost: " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                                     for k, v in shown.items()))
    click.echo(f"run it: python -m zoo_runtime {pkg} -n 16 --seed 0 --out grid.png")


@main.command("generate", context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
              add_help_option=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def generate_cmd(args) -> None:
    """Generate images from a model package with zoo_runtime (no PyTorch): PKG -n 16 --seed 0 --out grid.png.

    The same as `python -m zoo_runtime`; run `zoo generate --help` for its options.
    """
    from zoo_runtime.cli import main as runtime_main

    code = runtime_main(list(args), prog="zoo generate")
    if code:
        sys.exit(code)


if __name__ == "__main__":
    sys.exit(main())
