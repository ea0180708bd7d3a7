"""The manifest is validated against a schema (types, ranges, sizes) and against the graph's real inputs
and outputs at load (issue 13, items 5, 6 and 8): each failure is one ValueError line naming the
package and the field, never an ONNX Runtime traceback at the first request."""

from __future__ import annotations

import json

import numpy as np
import pytest

import zoo_runtime
from zoo_runtime.package import PackageError


def set_field(manifest, field, value):
    *parents, last = field.split(".")
    node = manifest
    for key in parents:
        node = node[key]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value


MALFORMED = [  # (field, value, what the message says)
    ("latent_dim", "128", "must be an integer"),
    ("latent_dim", 128.0, "must be an integer"),
    ("latent_dim", True, "must be an integer"),
    ("latent_dim", -1, "must be an integer in [1,"),
    ("latent_dim", 10**12, "must be an integer in [1,"),
    ("latent_dim", KeyError, "is missing"),
    ("conditioning", [], "must be an object"),
    ("conditioning.kind", "audio", "must be one of"),
    ("conditioning.kind", None, "must be one of"),
    ("conditioning.num_classes", "10", "must be an integer"),
    ("conditioning.num_classes", 0, "must be an integer in [1,"),
    ("conditioning.num_classes", 10**9, "must be an integer in [1,"),
    ("image.height", 0, "must be an integer in [1,"),
    ("image.height", "32", "must be an integer"),
    ("image.channels", 7, "must be an integer in [1, 4]"),
    ("image", None, "must be an object"),
    ("truncation", "yes", "must be true or false"),
    ("inputs", {}, "must be a list"),
    ("inputs", [], "must be a list of 1 to"),
    ("inputs", [1, 2], "must be an object"),
    ("outputs", [{"name": "images", "dtype": "uint8", "shape": ["batch", 32, 32]}], "must give 'images'"),
    ("files", [], "must be an object"),
    ("files", {}, "must list 1 to"),
    ("graph", 5, "must be a non-empty relative path"),
    ("graph", "other.onnx", "must be listed under files"),
    ("model", "dcgan", "must be an object"),
    ("model.name", ["x"], "must be a string"),
    ("precision", "fp8", "must be one of"),
]


@pytest.mark.parametrize("field,value,problem", MALFORMED, ids=[f"{f}={v!r}"[:40] for f, v, _ in MALFORMED])
def test_malformed_fields_are_one_line_naming_the_field(classcond, tamper, field, value, problem):
    pkg = tamper(classcond, lambda m, pkg: set_field(m, field, value))
    with pytest.raises(PackageError) as info:
        zoo_runtime.load(pkg, providers="cpu")
    message = str(info.value)
    named = field.split(".")[0] if field in ("files", "inputs") else field
    assert "\n" not in message and str(pkg) in message and problem in message and repr(named)[1:-1] in message, message


def test_files_entries_are_typed(classcond, tamper):
    for entry, problem in (
        ({"sha256": "0" * 64, "bytes": -1}, ".bytes' must be an integer"),
        ({"sha256": "0" * 64, "bytes": "12"}, ".bytes' must be an integer"),
        ({"sha256": None, "bytes": 1}, ".sha256' must be 64 lower-case hex"),
        ("abc", "must be an object {sha256, bytes}"),
    ):
        pkg = tamper(classcond, lambda m, pkg: m["files"].__setitem__("generator.onnx", entry))
        with pytest.raises(PackageError, match=r'files\["generator.onnx"\]'):
            zoo_runtime.load(pkg, providers="cpu", verify=False)
        assert problem in str(pytest.raises(PackageError, zoo_runtime.load, pkg, verify=False).value)


def test_hostile_json_is_one_line(classcond, tamper):
    for text, problem in (
        ("[" * 100_000 + "]" * 100_000, "not valid JSON"),  # recursion
        ('{"schema": "gan-zoo/model-package", "latent_dim": 1' + "0" * 5000 + "}", "not valid JSON"),
        ("\xff\xfe", "not valid JSON"),
        ("[]", "not a gan-zoo model package manifest"),
        ('{"schema": "gan-zoo/model-package", "schema_version": true}', "schema version True"),
    ):
        pkg = tamper(classcond)
        (pkg / "manifest.json").write_bytes(text.encode("latin-1"))
        with pytest.raises(PackageError, match=problem):
            zoo_runtime.load(pkg, providers="cpu")
    pkg = tamper(classcond)
    with open(pkg / "manifest.json", "ab") as f:
        f.write(b" " * (9 << 20))  # larger than any manifest: refused before it is read
    with pytest.raises(PackageError, match="more than a manifest's"):
        zoo_runtime.load(pkg, providers="cpu")


def consistent(field, value):
    """An edit that changes one fact consistently across the manifest (so only the graph disagrees)."""

    def edit(m, pkg):
        if field == "latent_dim":
            m["latent_dim"] = value
            next(s for s in m["inputs"] if s["name"] == "z")["shape"] = ["batch", value]
        elif field == "image.height":
            m["image"]["height"] = value
            m["outputs"][0]["shape"][1] = value
        elif field == "inputs.name":
            m["conditioning"] = {"kind": "none", "num_classes": 0, "text_dim": 0, "text_encoder": None}
            m["inputs"] = [s for s in m["inputs"] if s["name"] == "z"]
        elif field == "truncation":
            m["truncation"] = True
            m["inputs"].append({"name": "truncation", "dtype": "float32", "shape": ["batch"]})

    return edit


@pytest.mark.parametrize(
    "field,value,named",
    [
        ("latent_dim", 64, "'inputs' gives 'z' as float32 ['batch', 64]"),
        ("image.height", 16, "'outputs' gives 'images' as uint8"),
        ("inputs.name", None, "'inputs' names ['z'] but"),
        ("truncation", True, "'inputs' names"),
    ],
)
def test_manifest_and_graph_disagreeing_fail_at_load(classcond, tamper, field, value, named):
    """Issue: a manifest disagreeing with the graph gave ONNX Runtime tracebacks at the first request
    (input names, latent_dim), and the manifest's image height was ignored for small n."""
    pkg = tamper(classcond, consistent(field, value))
    with pytest.raises(PackageError) as info:
        zoo_runtime.load(pkg, providers="cpu")
    assert named in str(info.value) and "generator.onnx has" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("max_batch", [None, 8])
def test_num_classes_beyond_the_graph_is_one_line_per_request(classcond, tamper, max_batch):
    """num_classes is not visible in the graph's input shapes: a label the graph's table lacks fails at
    run time, as one ValueError line naming the field (also behind the batching front, where the
    good requests merged with it still succeed)."""
    pkg = tamper(classcond, lambda m, pkg: set_field(m, "conditioning.num_classes", 1000))
    gen = zoo_runtime.load(pkg, providers="cpu", max_batch=max_batch, max_delay_ms=1)
    with pytest.raises(ValueError) as info:
        gen.generate(2, seed=0, labels=500)
    message = str(info.value)
    assert "\n" not in message and str(pkg) in message and "conditioning.num_classes" in message, message
    assert gen.generate(2, seed=0, labels=5).shape == (2, 32, 32, 3)
    gen.close()


def test_a_real_package_still_loads(classcond, textcond):
    """The checks refuse nothing the exporter writes."""
    for pkg in (classcond, textcond):
        manifest = json.loads((pkg / "manifest.json").read_text())
        gen = zoo_runtime.load(pkg, providers="cpu")
        kwargs = {"labels": 1} if manifest["conditioning"]["kind"] == "class" else {"prompts": "a red circle"}
        assert gen.generate(2, seed=0, **kwargs).dtype == np.uint8


@pytest.mark.parametrize(
    "vocabulary",
    [
        "words",
        {"words": "red"},
        {"words": [1, 2]},
        {"words": ["x" * 101]},
        {"words": ["red"], "held_out_combos": [["red"]]},
        {"words": ["red"], "held_out_combos": "red square"},
        {"words": ["red"], "spellings": {"colour": {"red": 1}}},
        {"words": ["red"], "spellings": {"size": {}}},
    ],
)
def test_malformed_vocabulary_is_one_line(classcond, tamper, vocabulary):
    pkg = tamper(classcond, lambda m, pkg: m.__setitem__("vocabulary", vocabulary))
    with pytest.raises(PackageError) as info:
        zoo_runtime.load(pkg, providers="cpu")
    assert "\n" not in str(info.value) and "'vocabulary" in str(info.value), info.value
