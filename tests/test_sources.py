"""One way to resolve a model argument: zoo.resolve_source (zoo.factory) on zoo.sources.locate_source."""

from __future__ import annotations

import shutil

import pytest
import torch

import zoo
from zoo.sources import locate_source


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A tiny model's weights file, and a finished run directory holding the same file."""
    torch.manual_seed(0)
    model = zoo.create_model("dcgan32", width=8, channels=1)
    root = tmp_path_factory.mktemp("sources")
    path = zoo.save(model, root / "tiny.safetensors", dataset="test:random-init")
    (root / "run").mkdir()
    shutil.copy(path, root / "run" / "model.safetensors")
    return model, path, root / "run"


def same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sorted(sa) == sorted(sb) and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_each_kind_of_argument_gives_the_model(saved):
    model, path, run = saved
    for source in (path, str(path), f"file://{path}", run, str(run)):
        got = zoo.resolve_source(source)
        assert same_weights(got, model) and got.config["width"] == 8, source
    assert locate_source(run).weights == run / "model.safetensors" and locate_source(run).location == run
    tagged = zoo.resolve_source("dcgan32.digits")
    assert tagged.name == "dcgan32.digits" and same_weights(tagged, zoo.create_model("dcgan32.digits", pretrained=True))
    first = zoo.resolve_source("dcgan32")  # an architecture name: its first tag's weights
    assert same_weights(first, tagged)
    assert zoo.resolve_source("dcgan32", pretrained=False, width=8).config["width"] == 8  # fresh weights
    assert zoo.resolve_source(model) is model
    copied = zoo.resolve_source(model, copy_model=True)
    assert copied is not model and same_weights(copied, model)


def test_each_bad_argument_gets_one_clear_error(saved, tmp_path):
    model, _, _ = saved
    (tmp_path / "unfinished").mkdir()
    (tmp_path / "unfinished" / "checkpoint.safetensors").write_bytes(b"")
    (tmp_path / "empty").mkdir()
    cases = [
        (tmp_path / "unfinished", FileNotFoundError, "unfinished run .*--resume"),
        (tmp_path / "empty", FileNotFoundError, "folder without model.safetensors"),
        (tmp_path / "missing.safetensors", FileNotFoundError, "no such file"),
        (f"file://{tmp_path}/missing.safetensors", FileNotFoundError, "no such file"),
        ("dcgan23.digits", zoo.UnknownModelError, "Did you mean: dcgan32.digits"),
        ("dcgan32.digts", zoo.UnknownModelError, "no pretrained weights tagged .digts.; available: dcgan32.dig"),
        ("mlpgan28.nope", zoo.UnknownModelError, "no pretrained weights tagged 'nope'"),
    ]
    for source, error, match in cases:
        with pytest.raises(error, match=match):
            zoo.resolve_source(source)
    with pytest.raises(ValueError, match="already built"):
        zoo.resolve_source(model, width=16)


def test_train_refuses_trained_weights_and_says_what_to_do(saved, tmp_path):
    _, path, _ = saved
    with pytest.raises(ValueError, match="zoo finetune"):
        zoo.train(path, "builtin:digits", tmp_path / "run", steps=1, progress=False)
