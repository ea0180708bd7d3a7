"""What a newcomer reads first: every --help shows its defaults and whole sentences, `zoo info` is stable
and says what you asked about, and a model of your own goes by its own name (issue 14, item 8)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re

import click
import pytest
from click.testing import CliRunner

from zoo.cli import FINETUNE_DEFAULTS, INFO_ORDER, TRAIN_DEFAULTS, main
from zoo_runtime.cli import parser as runtime_parser

# Options that name an input the user must bring (no default to show), and on/off flags.
NO_DEFAULT = {
    "data",
    "out",
    "resume",
    "label",
    "prompt",
    "config_pairs",
    "weights",
    "d_backbone",
    "d_backbone_weights",
    "quality_data",
    "pattern",
    "conditioning",
    "png",
    "w_file",
    "z_file",
    "seeds",
    "from_file",
    "to_file",
    "prompts",
    "video",
    "rows",
    "cols",
    "target",
}


def click_commands():
    return [(name, cmd) for name, cmd in sorted(main.commands.items()) if name != "generate"]  # generate: argparse


def help_of(*args: str) -> str:
    result = CliRunner().invoke(main, [*args, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("name,cmd", click_commands(), ids=[n for n, _ in click_commands()])
def test_every_option_has_help_and_shows_its_default(name, cmd):
    help_of(name)  # renders
    ctx = click.Context(cmd, info_name=name)
    for param in cmd.params:
        if not isinstance(param, click.Option) or param.name == "help":
            continue
        assert param.help, f"zoo {name} {param.opts[0]} has no help text"
        if param.is_flag or param.required or param.name in NO_DEFAULT:
            continue
        assert param.show_default, f"zoo {name} {param.opts[0]} does not show its default"
        shown = param.get_help_record(ctx)[1]  # the text --help prints beside the option
        assert "[default: " in shown and "[default: (" not in shown, f"zoo {name} {param.opts[0]}: {shown!r}"


def test_runtime_help_shows_its_defaults():
    p = runtime_parser()
    for action in p._actions:  # argparse has no public list of its arguments
        if isinstance(action, (argparse._HelpAction, argparse._StoreTrueAction)) or not action.option_strings:
            continue
        assert action.help, f"{action.option_strings[0]} has no help"
        if action.default is not None:
            assert "%(default)s" in action.help, f"{action.option_strings[0]}: help does not show its default"
    text = p.format_help()
    assert "(default: 16)" in text and "(default: auto)" in text and "(default: samples.png)" in text


def test_runtime_serve_help_shows_its_defaults():
    from zoo_runtime.serve import parser as serve_parser

    p = serve_parser()
    text = " ".join(p.format_help().split())
    assert "(default: None)" not in text and "(default: False)" not in text
    for action in p._actions:
        if action.option_strings and action.default not in (None, False, argparse.SUPPRESS):
            assert f"(default: {action.default})" in text, action.option_strings[0]


def recipe_defaults():
    """(train's, finetune's) recipe as dicts."""
    from zoo.training.recipe import Recipe, finetune_recipe

    return dataclasses.asdict(Recipe()), dataclasses.asdict(finetune_recipe())


def parse_shown(value: str):
    head = value.split(" (")[0].split(",")[0]
    try:
        return float(head)
    except ValueError:
        return head


@pytest.mark.parametrize("shown,which", [(TRAIN_DEFAULTS, 0), (FINETUNE_DEFAULTS, 1)], ids=["train", "finetune"])
def test_shown_training_defaults_are_the_recipes(shown, which):
    recipe = recipe_defaults()[which]
    for field, text in shown.items():
        if field not in recipe or field in ("lr_d", "r1", "condition" if which == 0 else ""):
            continue  # described, not a value: lr_d/r1 None mean "derived", train's condition is the config's
        expected = recipe[field]
        assert parse_shown(text) == (float(expected) if isinstance(expected, (int, float)) else expected), (
            f"--help says {field} defaults to {text!r}, the recipe has {expected!r}"
        )
    assert recipe_defaults()[0]["r1"] is None and recipe_defaults()[0]["lr_d"] is None


def test_top_level_summaries_are_whole():
    text = help_of()
    commands = text.split("Commands:")[1]
    assert "..." not in commands, commands
    for name, cmd in main.commands.items():
        assert cmd.short_help and len(cmd.short_help) <= 60, name
        assert re.search(rf"^\s+{name}\s+{re.escape(cmd.short_help)}$", commands, re.M), name


@pytest.mark.parametrize(
    "name,example",
    [
        ("finetune", "zoo finetune dcgan32.digits --data ./my_images --out runs/x"),
        ("interpolate", "zoo interpolate stylegan2_64.shapes --seeds 3,17,42 --frames 48 --loop --out walk.webp"),
        ("project", "zoo project stylegan2_32.digits --target seven.png --steps 300 --out proj/"),
        ("train", "zoo train dcgan32 --data builtin:digits --condition class --config channels=1 --out runs/digits"),
    ],
)
def test_help_example_is_a_line_of_its_own(name, example):
    lines = CliRunner().invoke(main, [name, "--help"], terminal_width=80).output.splitlines()
    assert any(line.strip() == example for line in lines), "\n".join(lines[:14])


def test_info_fields_in_a_fixed_order(tmp_path):
    import zoo

    path = zoo.save(zoo.create_model("dcgan32", width=8), tmp_path / "mine.safetensors", parent="dcgan32")
    outputs = {CliRunner().invoke(main, ["info", str(path)]).output for _ in range(6)}
    assert len(outputs) == 1, outputs
    keys = [line.split(":")[0].strip() for line in outputs.pop().splitlines()]
    known = [k for k in INFO_ORDER if k in keys]
    assert keys[: len(known)] == known and keys[len(known) :] == sorted(keys[len(known) :]), keys
    assert keys[0] == "name"
    as_json = json.loads(CliRunner().invoke(main, ["info", str(path), "--json"]).output)
    assert list(as_json) == keys


def test_info_tagged_name_lists_only_its_weights():
    tagged = json.loads(CliRunner().invoke(main, ["info", "dcgan32.digits", "--json"]).output)
    assert list(tagged["pretrained"]) == ["digits"]
    arch = json.loads(CliRunner().invoke(main, ["info", "dcgan32", "--json"]).output)
    assert {"digits", "shapes"} <= set(arch["pretrained"])


def test_no_baseline_does_not_explain_a_missing_row():
    args = ["eval", "dcgan32.digits", "--data", "builtin:digits", "-n", "20", "--no-progress"]
    without = CliRunner().invoke(main, [*args, "--no-baseline"])
    assert without.exit_code == 0, without.output
    assert "random" not in without.output, without.output
    with_row = CliRunner().invoke(main, args)
    assert "random weights (same arch)" in with_row.output and "random-weights row" in with_row.output


def test_own_model_goes_by_its_own_name(tmp_path):
    import zoo

    fresh = zoo.create_model("dcgan32", width=8)
    assert fresh.name == "dcgan32" and zoo.create_model("dcgan32.digits", pretrained=True).name == "dcgan32.digits"
    file = zoo.save(fresh, tmp_path / "mine.safetensors", parent="dcgan32.digits")
    assert zoo.load(file).name == "mine"
    run = tmp_path / "runs" / "cats"
    run.mkdir(parents=True)
    zoo.save(fresh, run / "model.safetensors", parent="dcgan32.digits")
    assert zoo.load(run).name == "cats" and zoo.create_model(str(run)).name == "cats"
    sampled = CliRunner().invoke(main, ["sample", str(run), "-n", "2", "--out", str(tmp_path / "g.png")])
    assert "samples of cats " in sampled.output, sampled.output
    info = json.loads(CliRunner().invoke(main, ["info", str(run), "--json"]).output)
    assert info["name"] == "cats" and info["arch"] == "dcgan32"
