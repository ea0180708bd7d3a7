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


class DefaultTextOption(click.Option):
    """An option whose shown default is a description (`show_default="torch's"`): shown as written,
    without the parentheses click puts around it."""

    def get_help_extra(self, ctx):
        extra = super().get_help_extra(ctx)
        if isinstance(self.show_default, str):
            extra["default"] = self.show_default
        return extra


def recipe_option(*param_decls, **attrs):
    return click.option(*param_decls, cls=DefaultTextOption, **attrs)


class ZooGroup(click.Group):
    """Turns the zoo's own error types into clean messages instead of tracebacks."""

    def invoke(self, ctx):
        import warnings

        # a person reads these: "warning: <message>", not a source line of the zoo
        warnings.formatwarning = lambda message, category, *rest: f"warning: {message}\n"
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as e:
            if hasattr(e, "signum"):  # zoo.training's TrainingInterrupted: the checkpoint is written; say how to go on
                click.echo(str(e), err=True)
                raise click.exceptions.Exit(128 + e.signum) from e
            raise
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except (ValueError, KeyError, FileNotFoundError, RuntimeError, OSError) as e:
            if os.environ.get("ZOO_DEBUG") == "1":
                raise
            raise click.ClickException(f"{type(e).__name__}: {e}") from e
        except MemoryError as e:
            raise click.ClickException(
                f"out of memory ({e or 'allocation failed'}): ask for fewer images (-n) or a smaller --batch"
            ) from e


@click.group(cls=ZooGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gan-zoo")
def main() -> None:
    """gan-zoo: pretrained GANs, fine-tuning, ONNX export and a torch-free runtime."""


@main.command("list", short_help="List registered models and their pretrained tags.")
@click.argument("pattern", required=False)
@click.option("--pretrained", is_flag=True, help="Only models with weights, named arch.tag.")
@click.option("--conditioning", type=click.Choice(["none", "class", "text"]), help="Filter by conditioning.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_cmd(pattern: str | None, pretrained: bool, conditioning: str | None, as_json: bool) -> None:
    """List registered models (PATTERN is an fnmatch pattern like 'dcgan*')."""
    from zoo.registry import model_infos

    rows = [
        r
        for r in model_infos(pattern, pretrained=pretrained)
        if conditioning is None or r["conditioning"] == conditioning
    ]
    if as_json:
        echo_json(rows)
        return
    print_table(rows, ["name", "family", "resolution", "channels", "latent_dim", "conditioning", "tags", "source"])


@main.command("plugins", short_help="Show installed plugins and whether they loaded.")
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


@main.command("import", short_help="Import StyleGAN2-ADA or R3GAN .pkl, rosinality .pt, safely.")
@click.argument("src", type=click.Path(dir_okay=False))
@click.option(
    "--out", required=True, type=click.Path(dir_okay=False), help="The zoo weights file to write (.safetensors)."
)
@recipe_option("--name", show_default="the source's file name", help="A name recorded in the file (zoo info shows it).")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out file.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def import_cmd(src: str, out: str, name: str | None, overwrite: bool, as_json: bool) -> None:
    """Import a StyleGAN2-ADA or R3GAN .pkl, or a rosinality .pt checkpoint.

    The format is recognised by content; nothing from the file is run (see docs/import.md). The result
    is an ordinary zoo weights file: zoo info, sample, finetune and export take it.
    """
    from zoo.importing import CheckpointImportError, import_checkpoint

    try:
        model = import_checkpoint(src, out, name=name or None, overwrite=overwrite)
    except CheckpointImportError as e:
        fail(str(e))
    meta = model.metadata
    summary = {
        "out": out,
        "arch": model.spec.name,
        "source_format": meta["source_format"],
        "parent": meta["parent"],
        "resolution": model.config["resolution"],
        "labels": meta["labels"],
        "params": meta["params"],
        "augment_p": meta.get("augment_p"),
        "notes": meta.get("notes"),
    }
    if as_json:
        echo_json(summary)
        return
    click.echo(f"imported {src} ({summary['source_format']}) -> {out}")
    click.echo(
        f"  {model.spec.name}, {summary['resolution']} px, labels: {summary['labels']}, {summary['params']}"
        + (f", ADA p {summary['augment_p']}" if summary["augment_p"] else "")
    )
    if summary["notes"]:
        click.echo(f"  note: {summary['notes']}")
    click.echo(f"  next: zoo sample {out}{' --truncation 0.7' * model.has_truncation} --out samples.png")


@main.command("info", short_help="Show a model's spec, config and weights.")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def info_cmd(name: str, as_json: bool) -> None:
    """Show a model's spec, config and weights (a name, a .safetensors file or a run directory).

    A tagged name (dcgan32.digits) shows that tag's weights only; an architecture name shows every tag.
    """
    from zoo.sources import locate_source

    try:
        located = locate_source(name, fast=True)
    except FileNotFoundError as e:
        fail(str(e))
    if located.kind == "file":
        from zoo.weights import name_from_path, read_metadata

        path = located.weights
        from zoo.weights import shortened_metadata

        data = shortened_metadata(read_metadata(path))  # refuses pickles and non-zoo files; cuts 50 MB strings
        own_name = f"{data.get('arch')}.{data['tag']}" if data.get("tag") else name_from_path(path)
        data = {"name": data.get("name") or own_name, **data}
    else:
        from zoo.weights import expected_sha256

        spec, tag = located.spec, located.tag
        data = {
            "name": name,
            "family": spec.family,
            "description": spec.description,
            "source": spec.source,
            "config": spec.config_of(tag),
            "pretrained": {
                t: {"url": w.url, "sha256": expected_sha256(w), "license": w.license}
                for t, w in spec.pretrained.items()
                if tag is None or t == tag
            },
        }
    from zoo.vocabulary import info_fields

    data = ordered_fields({**data, **info_fields(located)})  # text models: what they know
    if as_json:
        echo_json(data)
        return
    for key, value in data.items():
        click.echo(f"{key:>12}: {json.dumps(value) if isinstance(value, (dict, list)) else value}")


# `zoo info` shows these first, in this order, then any other field alphabetically: a weights file's
# metadata comes back from safetensors in no fixed order.
INFO_ORDER = (
    "name",
    "arch",
    "tag",
    "family",
    "description",
    "source",
    "parent",
    "dataset",
    "data",
    "steps",
    "license",
    "config",
    "pretrained",
    "recipe",
    "format",
    "zoo_version",
)


def ordered_fields(data: dict) -> dict:
    rank = {key: i for i, key in enumerate(INFO_ORDER)}
    return dict(sorted(data.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])))


# --- zoo train / zoo finetune / zoo sample ----------------------------------------------------


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


# What `zoo train` / `zoo finetune` use for an option not given: the recipes' defaults (Recipe and the
# fine-tuning recipe in zoo.training.recipe), written out here so --help shows them without importing torch.
# tests/docs/test_cli_help.py checks every value against the recipes, so they cannot drift.
TRAIN_DEFAULTS = {
    "steps": "2000",
    "batch_size": "32",
    "lr": "0.0002",
    "lr_d": "same as --lr",
    "loss": "logistic",
    "r1": "0.1 (logistic), 0 (hinge)",
    "r2": "0.0",
    "mode_seeking": "0.0",
    "preset": "default",
    "ema_kimg": "10.0",
    "warmup": "0",
    "augment": "none (diffaug with --discriminator projected)",
    "condition": "the architecture's config",
    "sample_every": "500",
    "checkpoint_every": "500",
    "log_every": "50",
    "eval_every": "0",
    "eval_samples": "500",
    "seed": "0",
    "discriminator": "own",
    "d_input_size": "224",
    "fit": "crop",
}
FINETUNE_DEFAULTS = {
    **TRAIN_DEFAULTS,
    "steps": "1000",
    "lr": "0.001",
    "ema_kimg": "2.0",
    "warmup": "20",
    "augment": "diffaug",
    "condition": "auto",
    "sample_every": "250",
    "checkpoint_every": "250",
    "log_every": "25",
    "freeze_d": "1 (0 with --d-backbone or --discriminator projected)",
    "freeze_g": "0",
    "l2sp": "0.0",
    "ewc": "0.0",
}


def _training_options(shown: dict):
    """Options shared by `zoo train` and `zoo finetune`. Their value is None unless given: the recipe's
    default for a new run (`shown` in --help), the run's own value with --resume."""
    options = [
        recipe_option(
            "--data", help="builtin:digits, builtin:shapes, builtin:pairs (32x64), a folder of images or a pixel CSV."
        ),
        recipe_option(
            "--out", type=click.Path(file_okay=False), help="Run directory (samples, metrics, checkpoints, model)."
        ),
        recipe_option(
            "--steps", type=click.IntRange(min=1), help="Training steps (the run's total, also when resuming)."
        ),
        recipe_option(
            "--batch",
            "batch_size",
            type=click.IntRange(min=1),
            help="Global batch size (split across torchrun processes).",
        ),
        recipe_option("--lr", type=float, help="Learning rate of G (and D unless --lr-d)."),
        recipe_option("--lr-d", type=float, help="Learning rate of D."),
        recipe_option(
            "--recipe",
            "preset",
            type=click.Choice(["default", "r3gan"]),
            help="Named recipe beneath the options given (r3gan: RpGAN + R1 + R2, the paper's ramps; docs/r3gan.md).",
        ),
        recipe_option("--loss", type=click.Choice(["logistic", "hinge", "rpgan"]), help="Adversarial loss."),
        recipe_option("--r1", type=float, help="R1 penalty weight gamma (0 disables)."),
        recipe_option("--r2", type=float, help="R2 penalty weight gamma: R1 on generated images (0 disables)."),
        recipe_option(
            "--mode-seeking",
            type=click.FloatRange(min=0),
            help="Mode-seeking weight (MSGAN) for conditional runs: images of one caption vary (0 disables).",
        ),
        recipe_option("--ema-kimg", type=float, help="EMA half-life in thousands of images."),
        recipe_option("--warmup", type=int, help="Learning-rate warm-up steps."),
        recipe_option("--augment", type=click.Choice(["none", "diffaug", "ada"]), help="D-side augmentation."),
        recipe_option(
            "--fit",
            type=click.Choice(["crop", "pad", "stretch"]),
            help="How images of another aspect ratio meet a non-square model (--config resolution=64x32).",
        ),
        recipe_option(
            "--condition", help="auto | keep | none | class[:N] | text:ENCODER (auto and keep: fine-tuning)."
        ),
        recipe_option("--sample-every", type=int, help="Write a sample grid every K steps."),
        recipe_option("--checkpoint-every", type=int, help="Write a checkpoint every K steps."),
        recipe_option("--log-every", type=int, help="Append to metrics.jsonl every K steps."),
        recipe_option("--eval-every", type=int, help="FID/KID every K steps (0: at the end only)."),
        recipe_option("--eval-samples", type=int, help="Generated images per FID/KID (0: no FID/KID)."),
        recipe_option("--seed", type=click.IntRange(min=0), help="Random seed (same seed, same run)."),
        recipe_option("--amp", is_flag=True, default=None, help="bf16 autocast + channels-last (for GPUs)."),
        recipe_option(
            "--device",
            callback=_check_device,
            show_default="cuda when available, else cpu",
            help="cpu, cuda or cuda:N.",
        ),
        recipe_option(
            "--threads",
            type=click.IntRange(min=1),
            callback=_set_threads,
            expose_value=False,
            show_default="torch's",
            help="CPU threads for torch. On a machine shared with other jobs, 1 "
            "avoids threads spinning against each other.",
        ),
        recipe_option("--d-backbone", help="Use a pretrained-feature discriminator, e.g. timm:resnet18."),
        recipe_option("--d-backbone-weights", type=click.Path(dir_okay=False), help="Local weights for --d-backbone."),
        recipe_option(
            "--discriminator",
            type=click.Choice(["own", "projected"]),
            help="own: the architecture's D; projected: Projected GAN's D on frozen ImageNet features "
            "(hinge loss and DiffAugment unless --loss / --augment; docs/imagenet.md).",
        ),
        recipe_option(
            "--d-input-size",
            type=click.IntRange(min=32),
            help="Input size of the projected D's backbone (224 as the paper; 64 is ~10x cheaper on CPU).",
        ),
        recipe_option("--resume", type=click.Path(file_okay=False), help="Continue the run in this directory."),
        recipe_option("--overwrite", is_flag=True, help="Replace an earlier run in --out (default: refuse)."),
        recipe_option("--no-progress", is_flag=True, help="No progress bar."),
        recipe_option("--json", "as_json", is_flag=True, help="Print the result as JSON."),
    ]

    def decorate(f):
        for option in reversed(options):
            f = option(f)
        for param in f.__click_params__:
            if param.name in shown:
                param.show_default = shown[param.name]
        return f

    return decorate


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
    result = {
        "model": str(out_dir / "model.safetensors"),
        "checkpoint": str(out_dir / "checkpoint.safetensors"),
        "samples": str(samples[-1]) if samples else None,
        "metrics": str(out_dir / "metrics.jsonl"),
        "last": last,
        "parent": model.metadata.get("parent") or None,
    }
    if as_json:
        echo_json(result)
        return
    rows = [{"what": k, "value": v} for k, v in result.items() if k != "last"]
    rows += [{"what": k, "value": v} for k, v in last.items()]
    print_table(rows, ["what", "value"])


@main.command("train", short_help="Train an architecture from scratch on your data.")
@click.argument("arch", required=False)
@_training_options(TRAIN_DEFAULTS)
@click.option(
    "--config", "config_pairs", multiple=True, metavar="KEY=VALUE", help="Config override (repeatable), e.g. width=16."
)
def train_cmd(
    arch, data, out, resume, overwrite, no_progress, as_json, device, condition, config_pairs, **kwargs
) -> None:
    """Train ARCH from scratch on --data; writes samples, metrics, checkpoints and model.safetensors to --out.

    Options not given take the defaults shown below; with --resume, the run's own values.

    \b
    Example:
      zoo train dcgan32 --data builtin:digits --condition class --config channels=1 --out runs/digits
    """
    import zoo

    if resume is None and not (arch and data and out):
        fail("zoo train needs ARCH, --data and --out (or --resume RUN_DIR)")
    with _notes_to_stderr(as_json):
        model = zoo.train(
            arch,
            data,
            out,
            config=_parse_config(config_pairs) or None,
            condition=condition,
            resume=resume,
            overwrite=overwrite,
            device=device,
            progress=not no_progress,
            **_recipe_kwargs(kwargs),
        )
    _report_run(model, out or resume, as_json)


@main.command("finetune", short_help="Fine-tune a pretrained model on your images.")
@click.argument("source", required=False)
@_training_options(FINETUNE_DEFAULTS)
@recipe_option("--freeze-d", type=int, help="Freeze the first K discriminator blocks (FreezeD).")
@recipe_option("--freeze-g", type=int, help="Freeze the first K generator blocks (a mapping network counts as one).")
@recipe_option("--l2sp", type=float, help="L2-SP strength: pull trained weights toward the source's.")
@recipe_option("--ewc", type=float, help="EWC strength: L2-SP weighted by the source generator's Fisher information.")
def finetune_cmd(source, data, out, resume, overwrite, no_progress, as_json, device, **kwargs) -> None:
    """Fine-tune SOURCE (a tagged name, a .safetensors file or a run directory) on --data.

    The defaults shown below are a recipe for a small dataset (FreezeD 1, DiffAugment, warm-up,
    EMA); with --resume, options not given keep the run's own values.

    \b
    Example:
      zoo finetune dcgan32.digits --data ./my_images --out runs/x

    Under torchrun (torchrun --nproc_per_node 2 -m zoo finetune ...) --batch is the global batch,
    split evenly across processes; only rank 0 writes files.
    """
    import zoo

    if resume is None and not (source and data and out):
        fail("zoo finetune needs SOURCE, --data and --out (or --resume RUN_DIR)")
    with _notes_to_stderr(as_json):
        model = zoo.finetune(
            source,
            data,
            out,
            resume=resume,
            overwrite=overwrite,
            device=device,
            progress=not no_progress,
            **_recipe_kwargs(kwargs),
        )
    import os

    if int(os.environ.get("RANK", "0")) == 0:
        _report_run(model, out or resume, as_json)


@main.command("sample", short_help="Write a PNG grid of samples from a model.")
@click.argument("model_name")
@click.option("-n", "--num", "n", type=click.IntRange(min=1), default=64, show_default=True, help="Number of images.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Same seed, same images.")
@click.option(
    "--label",
    help="Class for every image, or a comma list: a class name (a training folder's or CSV "
    "label's) or an index 0..K-1 (class-conditional models).",
)
@click.option("--prompt", help="Text prompt (text-conditional models).")
@click.option(
    "--truncation",
    default="1.0",
    show_default=True,
    help="Truncation psi (models with the trick); a list like 0.5,0.7,1.0 makes one column per value, "
    "the same latents in each row.",
)
@click.option(
    "--w",
    "w_file",
    type=click.Path(dir_okay=False),
    cls=DefaultTextOption,
    show_default="none: seeds",
    help="Images from these w latents (.npy [N, w_dim] or w+, e.g. zoo project's latent.npy) instead of seeds.",
)
@click.option(
    "--z",
    "z_file",
    type=click.Path(dir_okay=False),
    cls=DefaultTextOption,
    show_default="none: seeds",
    help="Images from these z latents (.npy [N, latent_dim]).",
)
@recipe_option("--nrow", type=click.IntRange(min=1), show_default="square", help="Images per row.")
@click.option(
    "--out", required=True, type=click.Path(dir_okay=False), help="Image file to write (.png, or .jpg/.webp)."
)
@click.option("--device", callback=_check_device, default="cpu", show_default=True, help="cpu, cuda or cuda:N.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def sample_cmd(model_name, n, seed, label, prompt, truncation, w_file, z_file, nrow, out, device, as_json) -> None:
    """Write a PNG grid of n samples from MODEL_NAME (a tagged name, a .safetensors file or a run directory)."""
    import zoo
    from zoo.images import save_grid
    from zoo_runtime.images import image_format_of

    image_format_of(out)  # a wrong --out fails now, not after loading and generating
    model = zoo.resolve_source(model_name)
    if device:
        model = model.to(device)
    from zoo.vocabulary import prompt_note

    if note := prompt_note(model, prompt):  # words never seen in training: said, not refused
        click.echo(note, err=True)
    labels = None if label is None else label.split(",")  # names or indices: the model resolves and checks them
    labels = labels[0] if labels is not None and len(labels) == 1 else labels
    psis = _truncations(truncation)
    if not (w_file or z_file):  # a grid too large to write is refused before generating anything
        from zoo.images import check_grid_size
        from zoo.resolution import image_size

        check_grid_size(n * len(psis), *image_size(model.config["resolution"]), len(psis) if len(psis) > 1 else nrow)
    if w_file or z_file:
        from zoo.latents.cli import sample_latents

        images = sample_latents(model, w_file, z_file, labels, prompt, psis)
        n = len(images)
    elif len(psis) > 1:
        from zoo.latents import truncation_grid

        images = truncation_grid(model, n, psis, seed=seed, labels=labels, prompts=prompt)
        nrow = len(psis)
    else:  # batch by batch into the grid: memory is the grid and one batch, whatever n
        from zoo.images import grid_from_batches, write_picture

        grid, shape = grid_from_batches(
            model.sample_batches(n, seed=seed, labels=labels, prompts=prompt, truncation=psis[0]), n, nrow=nrow
        )
        images = None
    path = save_grid(images, out, nrow=nrow) if images is not None else write_picture(grid, out)
    shape = list(images.shape) if images is not None else shape
    info = {"out": str(path), "model": model.name, "n": n, "seed": seed, "shape": shape}
    if as_json:
        echo_json(info)
    else:
        click.echo(f"wrote {n} samples of {model.name} (seed {seed}) to {path}")


def _truncations(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()] or [1.0]
    except ValueError:
        fail(f"--truncation takes a number or a comma list like 0.5,0.7,1.0, got {text!r}")


# --- latent tools: zoo interpolate / style-mix / project (helpers in zoo/latents/cli.py) ---


@main.command("interpolate", short_help="Write a latent walk: an animation or a strip.")
@click.argument("model_name")
@click.option(
    "--seeds",
    cls=DefaultTextOption,
    show_default="none: give --seeds and/or --from/--to",
    help="Key seeds in order, e.g. 3,17,42 (or 0-4).",
)
@click.option(
    "--from",
    "from_file",
    type=click.Path(dir_okay=False),
    cls=DefaultTextOption,
    show_default="none",
    help="First key: a latent .npy (zoo project's).",
)
@click.option(
    "--to",
    "to_file",
    type=click.Path(dir_okay=False),
    cls=DefaultTextOption,
    show_default="none",
    help="Last key: a latent .npy.",
)
@click.option("--frames", type=click.IntRange(min=2), default=48, show_default=True, help="Frames in the file.")
@click.option("--loop", is_flag=True, help="Walk back to the first key (a seamless loop).")
@recipe_option(
    "--space",
    type=click.Choice(["z", "w"]),
    show_default="w with a mapping network, else z",
    help="z (slerp) or w (lerp).",
)
@recipe_option("--label", type=int, show_default="each seed's own in w", help="Class for every frame (class models).")
@click.option("--prompt", help="Prompt for every frame (text models).")
@click.option("--prompts", nargs=2, help="Text models: walk from prompt A to prompt B (z fixed: the first seed's).")
@click.option(
    "--truncation", type=float, default=1.0, show_default=True, help="Truncation psi (models with the trick)."
)
@click.option("--fps", type=float, default=24.0, show_default=True, help="Frames per second of an animation.")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False),
    help=".webp/.gif (animated), .mp4 (needs imageio-ffmpeg) or .png (a strip).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def interpolate_cmd(model_name, out, as_json, **options) -> None:
    """Write a latent walk of MODEL_NAME (a tagged name, a .safetensors file or a run directory).

    \b
    Example:
      zoo interpolate stylegan2_64.shapes --seeds 3,17,42 --frames 48 --loop --out walk.webp
    """
    from zoo.latents.cli import interpolate_command

    info = interpolate_command(model_name, out, **options)
    echo_json(info) if as_json else click.echo(
        f"wrote {info['frames']} frames of {info['model']} ({info['space']} space) to {info['out']}"
    )


@main.command("style-mix", short_help="Write a style-mixing grid (stylegan2 models).")
@click.argument("model_name")
@click.option("--rows", required=True, help="Row seeds (their fine styles), e.g. 1,2,3.")
@click.option("--cols", required=True, help="Column seeds (their styles in --layers), e.g. 4,5,6,7.")
@recipe_option("--layers", show_default="the coarse half", help="w layers taken from the columns, e.g. 0-3.")
@recipe_option("--label", type=int, show_default="each seed's own", help="Class for every image (class models).")
@click.option("--truncation", type=float, default=1.0, show_default=True, help="Truncation psi.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Image file (.png, .jpg, .webp).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def style_mix_cmd(model_name, rows, cols, layers, label, truncation, out, as_json) -> None:
    """Write the style-mixing grid of MODEL_NAME (models with a mapping network, stylegan2_*)."""
    from zoo.latents.cli import style_mix_command

    info = style_mix_command(model_name, rows, cols, layers, label, truncation, out)
    echo_json(info) if as_json else click.echo(
        f"wrote a {len(info['rows'])}x{len(info['cols'])} style-mixing grid (layers {info['layers']}) to {info['out']}"
    )


@main.command("project", short_help="Find the latent that reproduces an image.")
@click.argument("model_name")
@click.option("--target", required=True, type=click.Path(dir_okay=False), help="The image to reproduce.")
@click.option("--steps", type=click.IntRange(min=1), default=500, show_default=True, help="Optimisation steps.")
@click.option(
    "--out", required=True, type=click.Path(file_okay=False), help="Folder for latent.npy, PNGs, projection.json."
)
@recipe_option(
    "--space",
    type=click.Choice(["w", "w+", "z"]),
    show_default="w with a mapping network, else z",
    help="The latent space to optimise.",
)
@recipe_option(
    "--feature", show_default="imagenet if registered, else digits/shapes", help="Feature space of the perceptual loss."
)
@recipe_option("--label", type=int, show_default="the closest class at the start", help="Class (class models).")
@click.option("--prompt", help="Prompt (text models).")
@click.option(
    "--pixel-weight",
    type=float,
    default=1.0,
    show_default=True,
    help="Weight of the pixel loss next to the perceptual one.",
)
@click.option("--optimize-noise", is_flag=True, help="Also optimise the noise maps (StyleGAN2 projector, regularised).")
@click.option("--video", help="Also write the optimisation as this file in --out, e.g. progress.webp or progress.mp4.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of the starting latent.")
@recipe_option("--device", callback=_check_device, show_default="cpu", help="cpu, cuda or cuda:N.")
@recipe_option(
    "--threads",
    type=click.IntRange(min=1),
    callback=_set_threads,
    expose_value=False,
    show_default="torch's",
    help="CPU threads for torch.",
)
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def project_cmd(model_name, out, as_json, no_progress, **options) -> None:
    """Project --target into MODEL_NAME's latent space: writes the latent, the reconstruction and distances.

    \b
    Example:
      zoo project stylegan2_32.digits --target seven.png --steps 300 --out proj/
    """
    from zoo.latents.cli import project_command

    info = project_command(model_name, out, progress=False if no_progress or as_json else None, **options)
    if as_json:
        echo_json(info)
        return
    d = info["distances"]
    print_table(
        [
            {"image": "start", "pixel_rmse": d["start_pixel_rmse"], "feature": d["start_feature"]},
            {"image": "reconstruction", "pixel_rmse": d["pixel_rmse"], "feature": d["feature"]},
        ],
        ["image", "pixel_rmse", "feature"],
    )
    click.echo(
        f"wrote {out}/ (latent.npy {info['latent_shape']} in {info['space']}, side_by_side.png); "
        f"feature space {info['feature']}; reuse it: {info['use']}"
    )


# --- zoo eval: one function per --metric; add a metric by adding a function and an entry -------


def _eval_fid_kid(model_name: str, data: str, opts: dict) -> dict:
    from zoo.metrics import evaluate

    return evaluate(
        model_name,
        data,
        n=opts["n"],
        feature=opts["feature"],
        seed=opts["seed"],
        batch_size=opts["batch_size"],
        baseline=opts["baseline"],
        weights=opts["weights"],
        device=opts["device"],
        progress=opts["progress"],
    )


def _print_fid_kid(r: dict) -> None:
    click.echo(
        f"{r['model']} on {r['data']}: {r['n']} generated vs {r['n_real']} real images, "
        f"feature space {r['feature']}, {r['seconds']:.1f} s"
    )
    prdc = ("precision", "recall", "density", "coverage")
    rows = [
        {
            "generator": r["model"],
            "fid": r["fid"],
            "kid": f"{r['kid_mean']:.4g} ± {r['kid_std']:.2g}",
            **{k: r[k] for k in prdc},
        }
    ]
    if "baseline_random" in r:
        b = r["baseline_random"]
        rows.append(
            {
                "generator": "random weights (same arch)",
                "fid": b["fid"],
                "kid": f"{b['kid_mean']:.4g} ± {b['kid_std']:.2g}",
                **{k: b[k] for k in prdc},
            }
        )
    print_table(rows, ["generator", "fid", "kid", *prdc])
    click.echo(
        f"fid/kid: lower is better; precision/recall/density/coverage (k={r['prdc_k']}): higher is better "
        "(density ~1 when matched)"
        + ("; the random-weights row is what an untrained generator scores" if "baseline_random" in r else "")
    )


def _eval_text_alignment(model_name: str, data: str, opts: dict) -> dict:
    from zoo.metrics.text_alignment import text_alignment

    if data != "builtin:shapes":
        raise ValueError(
            f"--metric text-alignment checks generated images against the known attributes of "
            f"builtin:shapes captions: use --data builtin:shapes (got {data!r})"
        )
    return text_alignment(
        model_name,
        n=opts["n"],
        seed=opts["seed"],
        baseline=opts["baseline"],
        device=opts["device"],
        progress=opts["progress"],
    )


def _print_text_alignment(r: dict) -> None:
    from zoo.metrics.text_alignment import rows

    click.echo(
        f"{r['model']} (text encoder {r['text_encoder']}): attribute accuracy of the shapes classifier "
        f"(held-out accuracy {r['classifier']['held_out_accuracy']}), {r['n_per_set']} images per caption set, "
        f"{r['seconds']:.1f} s"
    )
    print_table(rows(r), ["images", "captions", "colour", "shape", "size", "background", "all"])
    click.echo(
        f"seen: combinations in training; held_out: (colour, shape) combinations never trained on "
        f"{[' '.join(c) for c in r['held_out_combos']]}; paraphrase: seen combinations in phrasings never "
        f"trained on (e.g. {r['paraphrase_examples'][0]!r}); all = colour, shape and size right"
    )
    click.echo("paraphrase / seen: " + ", ".join(f"{k} {v:.2f}" for k, v in r["paraphrase_ratio"].items()))
    if r.get("diversity"):
        from zoo.metrics.text_alignment import diversity_line

        click.echo(diversity_line(r["diversity"]).replace("**", ""))


def _eval_diversity(model_name: str, data: str, opts: dict) -> dict:
    from zoo.metrics.evaluate import evaluate_diversity

    return evaluate_diversity(
        model_name,
        data,
        n=opts["n"],
        seed=opts["seed"],
        png=opts["png"],
        device=opts["device"],
        progress=opts["progress"],
    )


def _print_diversity(r: dict) -> None:
    click.echo(
        f"{r['model']} on {r['data']}: {r['n_generated']} generated vs {r['n_train']} training images, "
        f"{r['seconds']:.1f} s"
    )
    columns = ["intra_cluster_diversity", "train_pairwise", "copy_rate", "clusters_used"]
    print_table([{k: "-" if r[k] is None else r[k] for k in columns}], columns)
    click.echo(
        f"distance: {r['distance']}. Diversity near train_pairwise is healthy, near 0 is copying; copy rate: "
        "share of samples nearer a training image than its nearest training neighbour"
    )
    if r.get("nearest_png"):
        click.echo(f"most copy-like samples (top) above their nearest training images (bottom): {r['nearest_png']}")


_EVAL_METRICS = {
    "fid-kid": (_eval_fid_kid, _print_fid_kid),  # --metric NAME -> (compute, print)
    "text-alignment": (_eval_text_alignment, _print_text_alignment),
    "diversity": (_eval_diversity, _print_diversity),
}


@main.command("eval", short_help="Score a model: FID/KID, text alignment or diversity.")
@click.argument("model_name")
@click.option(
    "--data",
    required=True,
    help="builtin:digits, builtin:shapes, builtin:pairs (32x64), a folder of images or a pixel CSV.",
)
@click.option(
    "--metric",
    type=click.Choice(sorted(_EVAL_METRICS)),
    default="fid-kid",
    show_default=True,
    help="fid-kid: FID and KID against --data; text-alignment: attributes of images from builtin:shapes "
    "captions (text models); diversity: intra-cluster diversity and copy rate against --data.",
)
@click.option("-n", "--n", "n", type=int, default=2000, show_default=True, help="Generated (and at most real) images.")
@click.option(
    "--feature",
    default="auto",
    show_default=True,
    help="Feature space: imagenet, digits, shapes, timm:NAME, or a registered one; auto: digits/shapes for "
    "builtin:digits/builtin:shapes, imagenet otherwise.",
)
@click.option("--weights", type=click.Path(dir_okay=False), help="Weights of the feature network (timm:NAME needs it).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of the generated images.")
@click.option("--batch-size", type=int, default=256, show_default=True, help="Images per forward pass.")
@click.option("--no-baseline", is_flag=True, help="Skip the random-weights baseline (half the time).")
@click.option(
    "--png",
    type=click.Path(dir_okay=False),
    cls=DefaultTextOption,
    show_default="none written",
    help="--metric diversity: write samples above their nearest training images.",
)
@recipe_option(
    "--device", callback=_check_device, show_default="cuda when available, else cpu", help="cpu, cuda or cuda:N."
)
@click.option("--no-progress", is_flag=True, help="No progress bars.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def eval_cmd(
    model_name, data, metric, n, feature, weights, seed, batch_size, no_baseline, png, device, no_progress, as_json
) -> None:
    """Score MODEL_NAME (a tagged name, a .safetensors file or a run directory) against --data."""
    if n < 2:
        fail(f"-n must be at least 2, got {n}")
    compute, show = _EVAL_METRICS[metric]
    opts = dict(
        n=n,
        feature=None if feature == "auto" else feature,
        weights=weights,
        seed=seed,
        batch_size=batch_size,
        baseline=not no_baseline,
        png=png,
        device=device,
        progress=False if no_progress or as_json else None,
    )
    result = compute(model_name, data, opts)
    if as_json:
        echo_json(result)
    else:
        show(result)


# --- zoo export / zoo generate ----------------------------------------------------------------


@main.command("export", short_help="Export a model to an ONNX package for zoo_runtime.")
@click.argument("name_or_file")
@click.option(
    "--out", required=True, type=click.Path(file_okay=False), help="Package folder (or Triton repository) to write."
)
@click.option("--opset", type=int, default=18, show_default=True, help="ONNX opset (>= 18).")
@click.option(
    "--precision",
    type=click.Choice(["fp32", "fp16", "int8"]),
    default="fp32",
    show_default=True,
    help="Weights and arithmetic of the exported graph (int8: static quantization).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["onnx", "triton"]),
    default="onnx",
    show_default=True,
    help="onnx: a model package for zoo_runtime; triton: a Triton Inference Server model repository.",
)
@click.option(
    "--config",
    "config_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="Config override when exporting an architecture by name (repeatable).",
)
@click.option("--quality-data", help="int8: also measure the FID change against this data (e.g. builtin:digits).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace --out if it is an earlier export that verifies "
    "(default: refuse; any other folder is always refused).",
)
def export_cmd(
    name_or_file, out, opset, precision, fmt, config_pairs, quality_data, no_progress, as_json, overwrite
) -> None:
    """Export NAME_OR_FILE (arch.tag, a .safetensors file or a run folder) to a verified ONNX package."""
    from zoo.exporting import export
    from zoo_runtime.package import read_manifest

    pkg = export(
        name_or_file,
        out,
        opset=opset,
        precision=precision,
        format=fmt,
        quality_data=quality_data,
        progress=False if no_progress or as_json else None,
        overwrite=overwrite,
        **_parse_config(config_pairs),
    )
    manifest = read_manifest(pkg)
    if as_json:
        echo_json({"package": str(pkg), **manifest})
        return
    p = manifest["parity"]
    size = sum(f["bytes"] for f in manifest["files"].values())
    click.echo(
        f"wrote {pkg} ({size / 1e6:.2f} MB): {manifest['model']['name']}, {precision}, opset {opset}, "
        f"{manifest['conditioning']['kind']} conditioning, output uint8 NHWC "
        f"{manifest['image']['height']}x{manifest['image']['width']}x{manifest['image']['channels']}"
    )
    print_table(
        [
            {
                "check": "float max |onnx - torch|",
                "value": p["float_max_abs"],
                "tolerance": p["tolerance"].get("float_max_abs"),
            },
            {
                "check": "float mean |onnx - torch|",
                "value": p["float_mean_abs"],
                "tolerance": p["tolerance"].get("float_mean_abs"),
            },
            {
                "check": "uint8 max level difference",
                "value": p["uint8_max_levels"],
                "tolerance": p["tolerance"].get("uint8_max_levels"),
            },
            {"check": "uint8 pixels differing", "value": p["uint8_mismatch_fraction"], "tolerance": None},
        ]
        + (
            [
                {
                    "check": f"float mean, {p['prompt_images']} prompts",
                    "value": p["prompt_float_mean_abs"],
                    "tolerance": p["tolerance"].get("float_mean_abs"),
                }
            ]
            if "prompt_float_mean_abs" in p
            else []
        ),
        ["check", "value", "tolerance"],
    )
    if "quality" in manifest:
        q = manifest["quality"]
        shown = {k: v for k, v in q.items() if k.startswith(("fid", "pixel", "prompt_pixel"))}
        click.echo(
            "int8 quality cost: "
            + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in shown.items())
        )
    click.echo(f"run it: python -m zoo_runtime {pkg} -n 16 --seed 0 --out grid.png")


@main.command(
    "generate",
    short_help="Images from a model package, without PyTorch.",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
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
