"""The package's manifest carries the model's training vocabulary; the runtime names prompt words the model
never saw, in one line, and still generates."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

import zoo_runtime
from zoo_runtime.text.vocabulary import unseen_note

VOCAB = ["a", "background", "blue", "circle", "on", "red", "square"]


def with_vocabulary(src, tmp_path):
    pkg = tmp_path / "pkg"
    shutil.copytree(src, pkg)
    manifest = json.loads((pkg / "manifest.json").read_text())
    manifest["vocabulary"] = {"words": VOCAB, "held_out_combos": [["red", "square"]]}
    (pkg / "manifest.json").write_text(json.dumps(manifest))  # the manifest is not under `files`
    return pkg


def test_generator_names_unseen_words_and_still_generates(textcond, tmp_path):
    pkg = with_vocabulary(textcond[0], tmp_path)
    with zoo_runtime.load(pkg, providers="cpu") as gen:
        name = gen.manifest["model"]["name"]
        assert gen.unseen_note("a Red circle on a blue background") is None  # casefolded, as the encoder reads it
        note = gen.unseen_note(["purple star on blue", "a red star"])
        assert note == f"note: 'purple', 'star' never appeared in {name}'s training captions"
        assert gen.generate(2, prompts="purple star").shape[0] == 2
    with zoo_runtime.load(textcond[0], providers="cpu") as plain:  # no vocabulary recorded: nothing to say
        assert plain.unseen_note("purple star") is None


def test_runtime_cli_prints_the_note_on_stderr(textcond, tmp_path):
    pkg = with_vocabulary(textcond[0], tmp_path)
    out = tmp_path / "x.png"
    args = [sys.executable, "-m", "zoo_runtime", str(pkg), "-n", "2", "--prompt", "a purple star", "--out", str(out)]
    run = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert [line for line in run.stderr.splitlines() if line.startswith("note: 'purple', 'star' never")], run.stderr
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
    manifest = json.loads((pkg / "manifest.json").read_text())
    assert manifest["vocabulary"] == {"words": VOCAB, "held_out_combos": [["red", "square"]]}
    with zoo_runtime.load(pkg, providers="cpu") as gen:
        assert "'star'" in gen.unseen_note("a red star")


def test_server_names_unseen_words_in_a_header(textcond, tmp_path):
    pytest.importorskip("starlette")
    pytest.importorskip("uvicorn")
    import http.client
    from urllib.parse import urlparse

    from zoo_runtime.serve import BackgroundServer, create_app

    pkg = with_vocabulary(textcond[0], tmp_path)
    with zoo_runtime.load(pkg, providers="cpu") as gen, BackgroundServer(create_app(gen)) as url:
        u = urlparse(url)
        for prompt, expected in (("a purple star", "'purple', 'star' never appeared"), ("a red circle", None)):
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
            conn.request("POST", "/generate", body=json.dumps({"seed": 0, "n": 1, "prompt": prompt}))
            resp = conn.getresponse()
            resp.read()
            conn.close()
            assert resp.status == 200
            note = resp.getheader("X-Note")
            assert (note is None) if expected is None else (expected in note), note
