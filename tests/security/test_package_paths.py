"""A model package's paths and files are untrusted (issue 13, item 5): every path relative, normalised,
inside the package, no symlink out; every file the runtime opens listed and sha256-checked, external
data and text-encoder files included; the sha never feeds a cache name unchecked."""

from __future__ import annotations

import json
import os
import shutil
import sys

import numpy as np
import onnx
import pytest

import zoo_runtime

OPENED: list[str] = []


def _audit(event, args):
    if event == "open" and OPENED is not None and isinstance(args[0], (str, bytes, os.PathLike)):
        OPENED.append(os.fsdecode(args[0]))


sys.addaudithook(_audit)  # hooks cannot be removed; it only appends to a list


def opened_outside(pkg, action) -> list[str]:
    """Run `action`; the files Python opened outside `pkg` (the library's own modules aside)."""
    OPENED.clear()
    try:
        action()
    finally:
        seen = list(OPENED)
    root = os.path.realpath(pkg)
    return [
        p
        for p in seen
        if not os.path.realpath(p).startswith(root + os.sep)
        and not p.endswith((".py", ".pyc", ".so"))
        and "site-packages" not in p
        and "/proc/" not in p
    ]


def one_line_error(pkg, action, *fragments) -> str:
    with pytest.raises(ValueError) as info:
        action()
    message = str(info.value)
    assert "\n" not in message and str(pkg) in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


@pytest.fixture(scope="session")
def secret(tmp_path_factory):
    path = tmp_path_factory.mktemp("outside") / "secret.onnx"
    path.write_bytes(b"not yours")
    return path


@pytest.mark.parametrize("verify", [True, False])
@pytest.mark.parametrize("where", ["absolute", "dotdot", "dotdot-inside", "dot", "backslash", "empty"])
def test_graph_and_file_paths_stay_inside(classcond, tamper, secret, where, verify):
    bad = {
        "absolute": str(secret),
        "dotdot": f"../{secret.parent.name}/secret.onnx",
        "dotdot-inside": "sub/../generator.onnx",
        "dot": "./generator.onnx",
        "backslash": "..\\secret.onnx",
        "empty": "",
    }[where]

    def edit(m, pkg):
        entry = m["files"].pop("generator.onnx")
        m["files"][bad] = entry
        m["graph"] = bad

    pkg = tamper(classcond, edit)
    assert (
        opened_outside(
            pkg,
            lambda: one_line_error(
                pkg, lambda: zoo_runtime.load(pkg, providers="cpu", verify=verify), "manifest field", "files["
            ),
        )
        == []
    )


def test_a_symlink_out_is_refused_and_never_hashed(classcond, tamper, secret):
    """The issue's probe: a listed file that is a symlink to a file of the machine was hashed and its
    sha256 printed. Now it is refused before any read, and nothing about it is printed."""

    def edit(m, pkg):
        (pkg / "probe.bin").symlink_to(secret)
        m["files"]["probe.bin"] = {"sha256": "0" * 64, "bytes": len(b"not yours")}

    pkg = tamper(classcond, edit)
    import hashlib

    message = one_line_error(
        pkg, lambda: zoo_runtime.load(pkg, providers="cpu"), 'files["probe.bin"]', "points outside the package"
    )
    assert hashlib.sha256(b"not yours").hexdigest()[:16] not in message
    assert opened_outside(pkg, lambda: pytest.raises(ValueError, zoo_runtime.load, pkg, providers="cpu")) == []

    def link_graph(m, pkg):  # the graph itself a symlink to a (valid!) graph outside the package
        shutil.copy(pkg / "generator.onnx", secret.parent / "generator.onnx")
        (pkg / "generator.onnx").unlink()
        (pkg / "generator.onnx").symlink_to(secret.parent / "generator.onnx")

    pkg = tamper(classcond, link_graph)
    one_line_error(pkg, lambda: zoo_runtime.load(pkg, providers="cpu", verify=False), "points outside the package")


def test_a_fifo_or_folder_is_not_read(classcond, tamper):
    """A listed FIFO would block the reader forever; a folder is not a file."""

    def edit(m, pkg):
        os.mkfifo(pkg / "pipe")
        (pkg / "dir").mkdir()
        m["files"]["pipe"] = {"sha256": "0" * 64, "bytes": 0}

    pkg = tamper(classcond, edit)
    one_line_error(pkg, lambda: zoo_runtime.load(pkg, providers="cpu"), 'files["pipe"]', "regular file")
    manifest = json.loads((pkg / "manifest.json").read_text())
    manifest["files"]["dir"] = manifest["files"].pop("pipe")
    (pkg / "manifest.json").write_text(json.dumps(manifest))
    one_line_error(pkg, lambda: zoo_runtime.load(pkg, providers="cpu"), 'files["dir"]', "regular file")


@pytest.mark.parametrize("sha", ["../../../../tmp/x" + "0" * 47, "A" * 64, "abc", 5])
def test_sha256_is_checked_hex_even_without_verify(classcond, tamper, sha):
    """The graph's sha names the TensorRT cache folder: with verify=False it must still be 64 lower-case
    hex digits, so no manifest can steer a cache path (or make a second folder with upper case)."""

    def edit(m, pkg):
        m["files"]["generator.onnx"]["sha256"] = sha

    pkg = tamper(classcond, edit)
    one_line_error(
        pkg,
        lambda: zoo_runtime.load(pkg, providers="cpu", verify=False),
        'files["generator.onnx"].sha256',
        "64 lower-case hex",
    )


def test_wrong_size_is_refused_before_hashing(classcond, tamper):
    def edit(m, pkg):
        m["files"]["generator.onnx"]["bytes"] += 1

    pkg = tamper(classcond, edit)
    one_line_error(
        pkg, lambda: zoo_runtime.load(pkg, providers="cpu", verify=False), "was altered", "bytes but the manifest says"
    )


def to_external_data(pkg):
    """Convert the package's graph to ONNX external data (weights in generator.onnx.data)."""
    model = onnx.load(pkg / "generator.onnx")
    onnx.save(
        model,
        pkg / "generator.onnx",
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="generator.onnx.data",
        size_threshold=1024,
    )  # shape constants inline


def test_external_data_must_be_listed(classcond, tamper):
    """The issue: a graph converted to external data loaded a weights file the manifest never lists,
    so changing it passed verify=True."""
    pkg = tamper(classcond, lambda m, pkg: to_external_data(pkg), relist_files=True)
    manifest = json.loads((pkg / "manifest.json").read_text())
    del manifest["files"]["generator.onnx.data"]
    (pkg / "manifest.json").write_text(json.dumps(manifest))
    for verify in (True, False):
        one_line_error(
            pkg,
            lambda: zoo_runtime.load(pkg, providers="cpu", verify=verify),
            "loads external data 'generator.onnx.data' that the manifest's files do not list",
        )


def test_external_data_listed_loads_and_altered_is_refused(classcond, tamper):
    want = zoo_runtime.load(classcond, providers="cpu").generate(2, seed=0, labels=3)
    pkg = tamper(classcond, lambda m, pkg: to_external_data(pkg), relist_files=True)
    assert "generator.onnx.data" in json.loads((pkg / "manifest.json").read_text())["files"]
    assert np.array_equal(zoo_runtime.load(pkg, providers="cpu").generate(2, seed=0, labels=3), want)
    with open(pkg / "generator.onnx.data", "r+b") as f:  # change one weight's byte: same size
        f.seek(40)
        byte = f.read(1)
        f.seek(40)
        f.write(bytes([byte[0] ^ 0x40]))
    one_line_error(pkg, lambda: zoo_runtime.load(pkg, providers="cpu"), "generator.onnx.data was altered")


def test_external_data_pointing_outside_is_refused(classcond, tamper, secret):
    def edit(m, pkg):
        to_external_data(pkg)
        model = onnx.load(pkg / "generator.onnx", load_external_data=False)
        for tensor in model.graph.initializer:
            for entry in tensor.external_data:
                if entry.key == "location":
                    entry.value = f"../{secret.parent.name}/secret.onnx"
        onnx.save(model, pkg / "generator.onnx")

    pkg = tamper(classcond, edit, relist_files=True)
    one_line_error(pkg, lambda: zoo_runtime.load(pkg, providers="cpu", verify=False), "external data", "'..'")


def test_text_encoder_files_must_be_listed(textcond, tamper):
    """A text encoder's files load only when listed (and verified): here an onnx-transformer entry
    naming files the manifest does not list."""

    def edit(m, pkg):
        (pkg / "tokenizer.json").write_text("{}")
        m["text_encoder"] = {
            "name": "t",
            "kind": "onnx-transformer",
            "dim": 256,
            "files": ["tokenizer.json"],
            "onnx": "generator.onnx",
            "tokenizer": "tokenizer.json",
            "max_length": 16,
        }

    pkg = tamper(textcond, edit)
    one_line_error(
        pkg,
        lambda: zoo_runtime.load(pkg, providers="cpu"),
        "text_encoder",
        "names files the manifest's files do not list",
    )


def test_garbage_tokenizer_is_one_line(textcond, tamper):
    """A listed, verified, but garbage tokenizer.json: one line naming the package and the field."""

    def edit(m, pkg):
        (pkg / "tokenizer.json").write_bytes(b'{"model": 3, "garbage": \xff}')
        m["text_encoder"] = {
            "name": "t",
            "kind": "onnx-transformer",
            "dim": 256,
            "files": ["tokenizer.json"],
            "onnx": "generator.onnx",
            "tokenizer": "tokenizer.json",
            "max_length": 16,
        }

    pkg = tamper(textcond, edit, relist_files=True)
    gen = zoo_runtime.load(pkg, providers="cpu")
    one_line_error(
        pkg, lambda: gen.generate(1, prompts="a red circle"), "text_encoder.tokenizer", "is not a valid tokenizers file"
    )


@pytest.mark.parametrize(
    "mapping,problem",
    [
        ("../secret.onnx", "normalised relative path"),
        ("/etc/hostname", "normalised relative path"),
        ("unlisted.onnx", "must be listed under files"),
    ],
)
def test_synthesis_graphs_are_checked_like_the_generator(classcond, tamper, mapping, problem):
    """The w-space entry (mapping.onnx, synthesis.onnx) names graphs too: they were loaded by path,
    unchecked; now they are validated at load and read through the same checked path as the graph."""

    def edit(m, pkg):
        (pkg / "unlisted.onnx").write_bytes((pkg / "generator.onnx").read_bytes())
        m["synthesis"] = {"mapping": mapping, "synthesis": "generator.onnx", "w_dim": 8, "num_ws": 2}

    pkg = tamper(classcond, edit)
    one_line_error(pkg, lambda: zoo_runtime.load(pkg, providers="cpu", verify=False), "synthesis.mapping", problem)
