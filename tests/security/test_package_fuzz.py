"""Property-based fuzzing of a real package's manifest (issue 13, item 5): random mutations of the
manifest of a real export -> `zoo_runtime.load` (and one image) either succeeds or raises a ValueError
line naming the package, never another exception; never opens a file outside the package (an audit
hook sees every file Python opens; ONNX Runtime is handed bytes, so it opens none itself); bounded in
time and memory. ZOO_FUZZ_EXAMPLES sets the number of examples (default 40: a few seconds)."""

from __future__ import annotations

import copy
import json
import math
import os
import resource
import shutil
import sys
import time

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import zoo_runtime  # noqa: E402

EXAMPLES = int(os.environ.get("ZOO_FUZZ_EXAMPLES", "40"))
OPENED: list[str] = []
AUDITING = [False]


def _audit(event, args):
    if AUDITING[0] and event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        OPENED.append(os.fsdecode(args[0]))


sys.addaudithook(_audit)

HOSTILE_PATHS = [
    "../secret.txt",
    "/etc/hostname",
    "escape",
    "a/../../secret.txt",
    "sub/../generator.onnx",
    "./generator.onnx",
    "generator.onnx/",
    "..\\secret.txt",
    "gen\x00erator.onnx",
    "",
    ".",
    "..",
    "C:generator.onnx",
    "pipe",
    "generator.onnx",
    "tokenizer.json",
    "manifest.json",
    "x" * 5000,
]
HOSTILE_VALUES = [
    None,
    True,
    False,
    0,
    -1,
    1,
    3,
    2**31,
    2**63,
    10**30,
    1.5,
    -0.0,
    math.inf,
    math.nan,
    "",
    "batch",
    "float32",
    "uint8",
    "int64",
    "class",
    "text",
    "none",
    "0" * 64,
    "A" * 64,
    [],
    {},
    ["batch"],
    ["batch", 128],
    ["batch", 32, 32, 3],
    {"sha256": "0" * 64, "bytes": 1},
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def paths_of(node, prefix=()):
    """Every (key path) in a JSON tree, containers included."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from paths_of(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from paths_of(v, prefix + (i,))


def mutate(manifest: dict, data) -> dict:
    m = copy.deepcopy(manifest)
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        paths = [p for p in paths_of(m) if p]
        if not paths:
            break
        path = data.draw(st.sampled_from(paths), label="where")
        *parents, last = path
        node = m
        for key in parents:
            node = node[key]
        action = data.draw(st.sampled_from(["delete", "value", "hostile", "path", "rename"]), label="action")
        if action == "delete":
            del node[last]
        elif action == "value":  # copies: a later mutation must not edit a drawn (shared) value in place
            node[last] = copy.deepcopy(data.draw(json_values, label="value"))
        elif action == "hostile":
            node[last] = copy.deepcopy(data.draw(st.sampled_from(HOSTILE_VALUES), label="hostile"))
        elif action == "path":
            node[last] = data.draw(st.sampled_from(HOSTILE_PATHS), label="path")
        elif isinstance(node, dict):  # rename a key, e.g. a file of `files` to a hostile path
            node[data.draw(st.sampled_from(HOSTILE_PATHS), label="new key")] = node.pop(last)
    return m


@pytest.fixture(scope="module")
def fuzz_packages(classcond, textcond, tmp_path_factory):
    """Working copies of a class- and a text-conditional package, with a symlink out and a FIFO inside
    (for the hostile paths to hit), and a secret file beside them."""
    root = tmp_path_factory.mktemp("fuzz")
    (root / "secret.txt").write_text("secret")
    out = {}
    for name, src in (("class", classcond), ("text", textcond)):
        pkg = root / name
        shutil.copytree(src, pkg)
        (pkg / "escape").symlink_to(root / "secret.txt")
        os.mkfifo(pkg / "pipe")
        out[name] = (pkg, json.loads((pkg / "manifest.json").read_text()))
    return out


@pytest.mark.filterwarnings("ignore")
def test_fuzzed_manifest_loads_or_fails_cleanly(fuzz_packages):
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    outcomes = {"loaded": 0, "refused": 0}
    started = time.monotonic()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize="ZOO_FUZZ_EXAMPLES" not in os.environ,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def check(data):
        kind = data.draw(st.sampled_from(sorted(fuzz_packages)), label="package")
        pkg, manifest = fuzz_packages[kind]
        (pkg / "manifest.json").write_text(json.dumps(mutate(manifest, data)))
        verify = data.draw(st.booleans(), label="verify")
        OPENED.clear()
        AUDITING[0] = True
        t = time.monotonic()
        try:
            gen = zoo_runtime.load(pkg, providers="cpu", threads=1, verify=verify)
            kwargs = {"text": {"prompts": "a red circle"}, "class": {"labels": 1}}.get(gen.kind, {})
            gen.generate(1, seed=0, **kwargs)
            outcomes["loaded"] += 1
        except ValueError as e:  # PackageError, TextEncoderError: one line naming the package
            message = str(e)
            assert "\n" not in message and str(pkg) in message, message
            outcomes["refused"] += 1
        finally:
            AUDITING[0] = False
        assert time.monotonic() - t < 10
        root = os.path.realpath(pkg)
        outside = [
            p
            for p in OPENED
            if not os.path.realpath(p).startswith(root + os.sep)
            and not p.endswith((".py", ".pyc", ".so"))
            and "site-packages" not in p
        ]
        assert not outside, outside

    check()
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    assert grown_mb < 1024, f"peak memory grew by {grown_mb:.0f} MB"
    assert outcomes["refused"] > 0 and time.monotonic() - started < 30 + EXAMPLES  # bounded
    print(f"fuzz: {outcomes}, {time.monotonic() - started:.1f} s, peak RSS +{grown_mb:.0f} MB")
