"""The `zoo` command line. Each command imports torch (and the rest) only when it runs, so that
`zoo --help` and `zoo list` stay fast.
"""
from __future__ import annotations

import json
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


class ZooGroup(click.Group):
    """Turns the zoo's own error types into clean messages instead of tracebacks."""

    def invoke(self, ctx):
        import os

        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort, KeyboardInterrupt):
            raise
        except (ValueError, KeyError, FileNotFoundError, RuntimeError, OSError) as e:
            if os.environ.get("ZOO_DEBUG") == "1":
                raise
            raise click.ClickException(f"{type(e).__name__}: {e}") from e


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
    if not rows:
        click.echo("no plugins installed (entry-point groups gan_zoo.models, gan_zoo.text_encoders)")
        return
    print_table(rows, ["group", "name", "distribution", "status", "error"])


@main.command("info")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
def info_cmd(name: str, as_json: bool) -> None:
    """Show a model's spec, config and weights (a name or a .safetensors file)."""
    from zoo.registry import resolve

    if name.endswith(".safetensors"):
        from zoo.weights import read_metadata

        data = read_metadata(name)
    else:
        spec, tag = resolve(name, fast=True)
        data = {"name": name, "family": spec.family, "description": spec.description, "source": spec.source,
                "config": spec.config_of(tag),
                "pretrained": {t: {"url": w.url, "sha256": w.sha256, "license": w.license}
                               for t, w in spec.pretrained.items()}}
    if as_json:
        echo_json(data)
        return
    for key, value in data.items():
        click.echo(f"{key:>12}: {json.dumps(value) if isinstance(value, (dict, list)) else value}")


if __name__ == "__main__":
    sys.exit(main())
