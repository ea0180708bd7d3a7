"""The package's manifest carries the model's training vocabulary and held-out (colour, shape) combinations;
the runtime names prompt words the model never saw and held-out combinations a prompt asks for, in one line,
and still generates."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

import zoo_runtime
from zoo_runtime.text.vocabulary import combos_named, held_out_named, prompt_note, unseen_note

VOCAB = ["a", "background", "blue", "circle", "on", "red", "square"]
# as zoo.vocabulary.attribute_spellings writes them for builtin:shapes (written out: these tests are torch-free)
SPELLINGS = {
    "colour": {"red": "red", "blue": "blue", "yellow": "yellow", "white": "white", "gray": "gray", "grey": "gray"}
    | {"purple": "purple", "violet": "purple"},
    "shape": {"circle": "circle", "disc": "circle", "square": "square", "triangle": "triangle"},
    "background": {"background": "background", "backdrop": "background"},
}


def with_vocabulary(src, tmp_path, spellings=SPELLINGS, name="pkg"):
    pkg = tmp_path / name
    shutil.copytree(src, pkg)
    manifest = json.loads((pkg / "manifest.json").read_text())
    manifest["vocabulary"] = {"words": VOCAB, "held_out_combos": [["red", "square"]]}
    if spellings is not None:
        manifest["vocabulary"]["spellings"] = spellings
    (pkg / "manifest.json").write_text(json.dumps(manifest))  # the manifest is not under `files`
    return pkg


@pytest.mark.parametrize(
    "prompt, combos",
    [
        ("a blue square on a yellow background", [("blue", "square")]),  # the background colour is not the object's
        ("big blue square", [("blue", "square")]),
        ("blue, large square", [("blue", "square")]),  # commas and sizes between
        ("Grey SQUARE", [("gray", "square")]),  # synonyms and case
        ("violet discs", [("purple", "circle")]),  # plurals
        ("red blue square", [("blue", "square")]),  # the nearest colour
        ("a blue star square", [("blue", "square")]),  # an unknown word between
        ("a square that is blue, on yellow", [("blue", "square")]),
        ("the square is small and blue", [("blue", "square")]),
        ("a red square on a blue circle", [("red", "square"), ("blue", "circle")]),  # "on" then an object
        ("big red triangle, white background", [("red", "triangle")]),
        ("yellow background with a square", []),
        ("the blue backdrop and a tiny red disc", [("red", "circle")]),
        ("on blue, a square", []),
        ("background: yellow, a big square", []),
        ("purple star on gray", []),
        ("a red circle and a square", [("red", "circle")]),  # another shape between: the square has no colour
        ("", []),
    ],
)
def test_combinations_a_prompt_names(prompt, combos):
    assert combos_named(prompt, SPELLINGS) == combos


def test_held_out_combinations_over_several_prompts():
    held = [["red", "square"], ["blue", "circle"]]
    prompts = ["a small red square", "blue disc on red", "big red square, grey backdrop", "red circle"]
    assert held_out_named(prompts, held, SPELLINGS) == [("red", "square"), ("blue", "circle")]  # each once
    assert held_out_named(prompts, held, None) == [] and held_out_named(prompts, [], SPELLINGS) == []


def test_one_note_line_for_unseen_words_and_held_out_combinations():
    vocabulary = {"words": VOCAB, "held_out_combos": [["red", "square"], ["blue", "circle"]], "spellings": SPELLINGS}
    assert prompt_note("a red square", vocabulary, "m") == (
        "note: 'red square' (colour, shape) was held out of m's training: expect it to be weaker"
    )
    assert prompt_note(["a red star", "big red square", "blue circle"], vocabulary, "m") == (
        "note: 'star', 'big' never appeared in m's training captions; 'red square', 'blue circle' (colour, shape) "
        "were held out of its training: expect them to be weaker"
    )
    assert prompt_note("a blue square on a red background", vocabulary, "m") is None
    assert prompt_note("a red square", {"words": VOCAB, "held_out_combos": [["red", "square"]]}, "m") is None
    assert prompt_note("a red square", None, "m") is None


def test_generator_names_unseen_words_and_still_generates(textcond, tmp_path):
    pkg = with_vocabulary(textcond[0], tmp_path)
    with zoo_runtime.load(pkg, providers="cpu") as gen:
        name = gen.manifest["model"]["name"]
        assert gen.unseen_note("a Red circle on a blue background") is None  # casefolded, as the encoder reads it
        note = gen.unseen_note(["purple star on blue", "a red star"])
        assert note == f"note: 'purple', 'star' never appeared in {name}'s training captions"
        assert gen.generate(2, prompts="purple star").shape[0] == 2
        assert gen.unseen_note("a big red square") == (
            f"note: 'big' never appeared in {name}'s training captions; 'red square' (colour, shape) was held out "
            "of its training: expect it to be weaker"
        )
    with zoo_runtime.load(textcond[0], providers="cpu") as plain:  # no vocabulary recorded: nothing to say
        assert plain.unseen_note("purple star") is None
    old = with_vocabulary(textcond[0], tmp_path, spellings=None, name="old")  # exported before spellings
    with zoo_runtime.load(old, providers="cpu") as gen:
        assert gen.unseen_note("a red square") is None and "'star'" in gen.unseen_note("a red star")


def test_runtime_cli_prints_the_note_on_stderr(textcond, tmp_path):
    pkg = with_vocabulary(textcond[0], tmp_path)
    out = tmp_path / "x.png"
    prompt = "a purple star, red square"
    args = [sys.executable, "-m", "zoo_runtime", str(pkg), "-n", "2", "--prompt", prompt, "--out", str(out)]
    run = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    notes = [line for line in run.stderr.splitlines() if line.startswith("note: 'purple', 'star' never")]
    assert len(notes) == 1 and notes[0].endswith(
        "'red square' (colour, shape) was held out of its training: expect it to be weaker"
    ), run.stderr
    assert out.exists()


def test_unseen_note_counts_beyond_the_named_words():
    note = unseen_note("one two three four five six seven eight nine ten", [], "m")
    assert note.startswith("note: 'one', 'two'") and "'eight' and 2 more never appeared in m's" in note
    assert unseen_note("anything", None, "m") is None


def test_export_writes_the_vocabulary_into_the_manifest(tmp_path):
    import zoo
    from zoo.exporting import export

    model = zoo.create_model("dcgan32", width=8, conditioning="text", text_dim=64, text_encoder="hash")
    model.metadata.update(vocabulary=json.dumps(VOCAB), held_out_combos=json.dumps([["red", "square"]]))
    pkg = export(model, tmp_path / "pkg", progress=False, quality_n=16)
    vocabulary = json.loads((pkg / "manifest.json").read_text())["vocabulary"]
    assert vocabulary["words"] == VOCAB and vocabulary["held_out_combos"] == [["red", "square"]]
    assert vocabulary["spellings"]["colour"]["grey"] == "gray" and vocabulary["spellings"]["shape"]["disc"] == "circle"
    with zoo_runtime.load(pkg, providers="cpu") as gen:
        assert "'star'" in gen.unseen_note("a red star")
        assert "'red square' (colour, shape) was held out" in gen.unseen_note("big red square, grey backdrop")


def test_server_names_unseen_words_in_a_header(textcond, tmp_path):
    pytest.importorskip("starlette")
    pytest.importorskip("uvicorn")
    import http.client
    from urllib.parse import urlparse

    from zoo_runtime.serve import BackgroundServer, create_app

    pkg = with_vocabulary(textcond[0], tmp_path)
    with zoo_runtime.load(pkg, providers="cpu") as gen, BackgroundServer(create_app(gen)) as url:
        u = urlparse(url)
        for prompt, expected in (
            ("a purple star", "'purple', 'star' never appeared"),
            ("a red circle", None),
            ("a red square", "'red square' (colour, shape) was held out"),
        ):
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
            conn.request("POST", "/generate", body=json.dumps({"seed": 0, "n": 1, "prompt": prompt}))
            resp = conn.getresponse()
            resp.read()
            conn.close()
            assert resp.status == 200
            note = resp.getheader("X-Note")
            assert (note is None) if expected is None else (expected in note), note
