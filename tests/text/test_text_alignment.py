"""`zoo eval --metric text-alignment`: the shipped shapes classifier and the alignment report."""

from __future__ import annotations

import json

import pytest
import torch

import zoo
from zoo.data.shapes import render_batch, sample_attributes
from zoo.metrics import text_alignment as ta
from zoo.metrics.shapes_classifier import load_shapes_classifier, predict, read_classifier_metadata


def test_shipped_classifier_metadata_and_accuracy_on_fresh_scenes():
    meta = read_classifier_metadata()
    for head in ("shape", "colour", "size", "background"):
        assert meta["held_out_accuracy"][head] >= 0.95, meta["held_out_accuracy"]
    clf = load_shapes_classifier()
    attrs = sample_attributes(120, seed=12345)  # neither the training (1) nor the held-out (2) seed
    acc = ta.score(predict(clf, render_batch(attrs, 32)), attrs)
    assert acc["colour"] >= 0.95 and acc["shape"] >= 0.9 and acc["size"] >= 0.9, acc


def test_score_and_caption_sets():
    attrs = [{"shape": "circle", "colour": "red", "size": "small", "background": "blue"}] * 2
    pred = {
        "shape": ["circle", "square"],
        "colour": ["red", "red"],
        "size": ["small", "small"],
        "background": ["blue", "gray"],
    }
    assert ta.score(pred, attrs) == {"shape": 0.5, "colour": 1.0, "size": 1.0, "background": 0.5, "all": 0.5}
    sets = ta.caption_sets([("red", "triangle")], 30, seed=0)
    assert all((a["colour"], a["shape"]) == ("red", "triangle") for a in sets["held_out"])
    assert not any((a["colour"], a["shape"]) == ("red", "triangle") for a in sets["seen"])
    from zoo.data.captions import PARAPHRASE_FAMILIES
    from zoo.data.shapes import caption_for

    assert all(a["caption"] == caption_for(a) for a in sets["seen"] + sets["held_out"])
    para = sets["paraphrase"]
    assert not any((a["colour"], a["shape"]) == ("red", "triangle") for a in para)
    assert all(a["caption"] != caption_for(a) for a in para) and len(PARAPHRASE_FAMILIES) >= 3
    per_set = {"seen": {"colour": 0.8, "shape": 0.5}, "paraphrase": {"colour": 0.4, "shape": 0.5}}
    assert ta.paraphrase_ratio(per_set) == {"colour": 0.5, "shape": 1.0}
    assert ta.chance_levels()["colour"] == pytest.approx(1 / 6)


def test_report_for_a_tiny_model_next_to_baseline_chance_and_real_images():
    torch.manual_seed(0)
    model = zoo.create_model("dcgan32", width=8, conditioning="text", text_dim=256, text_encoder="hash")
    model.metadata["held_out_combos"] = json.dumps([["red", "triangle"]])
    report = ta.text_alignment(model, n=16, progress=False)
    assert report["held_out_combos"] == [["red", "triangle"]] and report["held_out_from"] == "model metadata"
    assert set(report["results"]) == {"model", "random_weights", "real_images"}
    for per_set in report["results"].values():
        assert set(per_set) == {"seen", "held_out", "paraphrase"}
        assert set(per_set["seen"]) == {"shape", "colour", "size", "background", "all"}
    assert report["results"]["real_images"]["held_out"]["colour"] >= 0.9  # the classifier's ceiling
    assert report["results"]["real_images"]["paraphrase"]["colour"] >= 0.9
    assert set(report["paraphrase_ratio"]) == {"shape", "colour", "size", "background", "all"}
    d = report["diversity"]  # n=16: 2 captions x 8 images against 8 renderings each
    assert d["captions"] == 2 and d["images_per_caption"] == 8 and d["real"] > 0 and d["ratio"] > 0
    json.dumps(report)
    table = ta.format_markdown(report)
    assert "random weights" in table and "chance" in table and "Variety per prompt" in table


def test_non_text_model_is_refused():
    with pytest.raises(ValueError, match="not text-conditional"):
        ta.text_alignment(zoo.create_model("dcgan32", width=8), n=2)


def test_cli(tmp_path):
    from click.testing import CliRunner

    from zoo.cli import main

    torch.manual_seed(0)
    model = zoo.create_model("dcgan32", width=8, conditioning="text", text_dim=256, text_encoder="hash")
    path = zoo.save(model, tmp_path / "tiny-text.safetensors")
    args = ["eval", str(path), "--data", "builtin:shapes", "--metric", "text-alignment", "-n", "8", "--no-baseline"]
    run = CliRunner().invoke(main, args + ["--json"])
    assert run.exit_code == 0, run.output
    report = json.loads(run.output)
    assert "random_weights" not in report["results"] and report["n_per_set"] == 8
    assert report["held_out_from"].startswith("zoo.metrics.text_alignment.HELD_OUT_COMBOS")
    table = CliRunner().invoke(main, args)
    assert table.exit_code == 0 and "held_out" in table.output and "chance" in table.output, table.output
    assert "paraphrase / seen: shape" in table.output and "Variety per prompt" in table.output
    bad = CliRunner().invoke(main, ["eval", str(path), "--data", "builtin:digits", "--metric", "text-alignment"])
    assert bad.exit_code != 0 and "use --data builtin:shapes" in bad.output


def test_held_out_combos_from_a_runs_recipe():
    class Run:
        metadata = {"recipe": json.dumps({"extra": {"held_out_combos": [["blue", "circle"]]}})}

    assert ta.held_out_combos_of(Run()) == ([("blue", "circle")], "model metadata")


def test_shipped_text_model_follows_colour_words():
    """The shipped dcgan32.shapes-text (sha256-verified from the package) draws the colour it is asked for."""
    report = ta.text_alignment("dcgan32.shapes-text", n=60, baseline=False, progress=False, diversity_k=0)
    assert report["held_out_from"] == "model metadata"
    seen = report["results"]["model"]["seen"]
    assert seen["colour"] >= 0.8 and seen["background"] >= 0.9 and seen["size"] >= 0.8, seen
