"""What a text model knows (zoo.vocabulary): training records its captions' words and held-out combinations;
`zoo info` lists them, `zoo sample --prompt` and exports name words it never saw and held-out combinations a
prompt asks for, without refusing."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import zoo
from zoo.cli import main
from zoo.data.captions import BACKGROUND_NOUNS, SYNONYMS
from zoo.data.shapes import BACKGROUNDS, COLOURS, SHAPES, load_shapes
from zoo.testing import tiny_text_run
from zoo.vocabulary import attribute_spellings, knowledge_of, prompt_note
from zoo.weights import read_metadata
from zoo_runtime.text.vocabulary import words_of


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 2-step text run on shapes without red circles: (model file, its data)."""
    data = load_shapes(32, 3, n=40, seed=0, exclude=[("red", "circle")], progress=False)
    run = tmp_path_factory.mktemp("vocab") / "run"
    tiny_text_run(data, run)
    return run / "model.safetensors", data


def test_training_records_vocabulary_and_held_out_combos(trained):
    path, data = trained
    meta = read_metadata(path)
    vocab = json.loads(meta["vocabulary"])
    assert vocab == words_of(data.captions) and "star" not in vocab and "circle" in vocab
    held = json.loads(meta["held_out_combos"])
    assert ["red", "circle"] in held  # never in the data
    assert all((c, s) not in {(a["colour"], a["shape"]) for a in data.attributes} for c, s in held)
    resaved = zoo.save(zoo.load(path), path.with_name("resaved.safetensors"))  # kept through re-saving
    assert json.loads(read_metadata(resaved)["vocabulary"]) == vocab


def test_sample_prompt_names_unseen_words_without_refusing(trained, tmp_path):
    path, data = trained
    model = zoo.load(path)
    assert prompt_note(model, data.captions[:5]) is None
    note = prompt_note(model, "purple star on gray")
    assert note is not None and "'star'" in note and "'purple'" not in note and note.endswith("training captions")
    run = CliRunner().invoke(
        main, ["sample", str(path), "--prompt", "purple star", "-n", "2", "--out", str(tmp_path / "s.png")]
    )
    assert run.exit_code == 0, run.output
    assert "'star' never appeared in" in run.output and (tmp_path / "s.png").exists()


def test_zoo_info_lists_what_a_model_knows(trained):
    path, data = trained
    info = json.loads(CliRunner().invoke(main, ["info", str(path), "--json"]).output)
    assert info["vocabulary"] == words_of(data.captions) and ["red", "circle"] in info["held_out_combos"]
    shipped = json.loads(CliRunner().invoke(main, ["info", "dcgan32.shapes-text", "--json"]).output)
    assert "circle" in shipped["vocabulary"] and "star" not in shipped["vocabulary"]
    assert ["red", "triangle"] in shipped["held_out_combos"] and "training captions" in shipped["vocabulary_from"]
    digits = json.loads(CliRunner().invoke(main, ["info", "dcgan32.digits", "--json"]).output)
    assert "vocabulary" not in digits  # not a text model


def test_shipped_model_records_its_grammar_vocabulary():
    model = zoo.resolve_source("dcgan32.shapes-text")
    known = knowledge_of(model.metadata)
    assert set(known["vocabulary"]) >= {"a", "on", "background", "red", "triangle", "gray", "small", "large"}
    assert {"grey", "big", "disc", "backdrop"} <= set(known["vocabulary"])  # trained on the caption grammar
    assert prompt_note(model, "purple star on gray") == (
        "note: 'star' never appeared in dcgan32.shapes-text's training captions"
    )


@pytest.mark.parametrize(
    "meta",
    [
        {"vocabulary": "not json ["},
        {"vocabulary": json.dumps({"a": 1})},
        {"vocabulary": json.dumps(["ok", 3])},
        {"data": "builtin:shapes exclude=[['hexagon']]", "trained_by": "scripts/train_text_model.py"},
        {"data": "builtin:shapes exclude=[[[[", "trained_by": "scripts/train_text_model.py"},
        {"held_out_combos": "[[", "recipe": "{"},
        {"held_out_combos": "[1, 2]", "vocabulary": "[1]"},
    ],
)
def test_malformed_metadata_means_unknown_not_a_crash(meta):
    assert knowledge_of(meta) is None


def test_shipped_model_names_held_out_combinations_in_sample(tmp_path):
    model = zoo.resolve_source("dcgan32.shapes-text")
    held_out = knowledge_of(model.metadata)["held_out_combos"]
    assert ["blue", "square"] in held_out and ["red", "triangle"] in held_out  # as `zoo info` lists them
    assert prompt_note(model, "a blue circle on a yellow background") is None  # seen; yellow is the background
    assert prompt_note(model, ["big red triangle, white background", "a star"]) == (
        "note: 'star' never appeared in dcgan32.shapes-text's training captions; 'red triangle' (colour, shape) "
        "was held out of its training: expect it to be weaker"
    )
    out = tmp_path / "s.png"
    args = ["sample", "dcgan32.shapes-text", "--prompt", "a blue square on a yellow background", "-n", "1"]
    run = CliRunner().invoke(main, [*args, "--out", str(out)])
    assert run.exit_code == 0, run.output
    assert "note: 'blue square' (colour, shape) was held out of dcgan32.shapes-text's training" in run.output
    assert out.exists()


def test_attribute_spellings_cover_the_caption_grammar():
    spellings = attribute_spellings()
    for value in (*COLOURS, *BACKGROUNDS):
        assert all(spellings["colour"][s] == value for s in SYNONYMS.get(value, (value,)))
    for value in SHAPES:
        assert all(spellings["shape"][s] == value for s in SYNONYMS.get(value, (value,)))
    assert set(spellings["background"]) == set(BACKGROUND_NOUNS)
