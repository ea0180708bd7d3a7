"""The model package: a folder with `manifest.json`, `generator.onnx` and, for text models, the text
encoder's files. `zoo export` writes it (using the constants here, so both sides agree); the runtime
reads and checks it.

manifest.json, schema version 1 (keys the runtime relies on):
    schema            "gan-zoo/model-package"
    schema_version    1
    model             {name, arch, family, parent, config, ...}
    latent_dim        int
    conditioning      {kind: none|class|text, num_classes, text_dim, text_encoder}
    truncation        bool: the graph has a `truncation` input
    inputs, outputs   [{name, dtype, shape}], "batch" for the dynamic batch dimension
    image             {height, width, channels, layout: "NHWC", dtype: "uint8", ...}
    graph             "generator.onnx"
    files             {relative path: {sha256, bytes}} for every file but the manifest
    parity            what export measured against PyTorch
    text_encoder      the text encoder's own entry (text models only)
    vocabulary        optional, text models: {words: [the training captions' words], held_out_combos:
                      [[colour, shape], ...], spellings (optional): {colour|shape|background: {spelling:
                      canonical word}}} (zoo_runtime.text.vocabulary.prompt_note)

A package comes from strangers: `read_manifest` checks every field's type and range and the
fields against each other, every path is relative, normalised and stays inside the package (no
symlink out), and every file the runtime opens is listed under `files` and read through
`read_member`, which checks its size and sha256 on the very bytes it returns. Each failure is one
`PackageError` (a ValueError) line naming the package and the field.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from pathlib import Path, PurePosixPath

SCHEMA = "gan-zoo/model-package"
SCHEMA_VERSION = 1
SUPPORTED_SCHEMA_VERSIONS = (1,)
MANIFEST = "manifest.json"
GRAPH = "generator.onnx"

# Input and output names of every exported generator graph.
INPUT_Z = "z"
INPUT_LABELS = "labels"
INPUT_EMBEDDINGS = "embeddings"
INPUT_TRUNCATION = "truncation"
INPUT_TEXT_TOKENS = "text_tokens"  # token-level text models: float32 [batch, text_tokens, text_token_dim]
INPUT_TEXT_MASK = "text_mask"  # and bool [batch, text_tokens] (zoo_runtime.text.tokens.fit_tokens)
OUTPUT_IMAGES = "images"

# How the float generator output x in [-1, 1] becomes a pixel, inside the graph: exactly
# zoo.images.to_uint8 (round half up), so runtime pixels equal `zoo sample` pixels.
PIXEL_FORMULA = "uint8(floor(clip((x + 1) * 127.5 + 0.5, 0, 255))), then NCHW -> NHWC"

# Bounds of the schema: far above any real model, low enough that no field can make the runtime
# allocate or read without limit.
MAX_MANIFEST_BYTES = 8 << 20
MAX_FILES = 1000
MAX_FILE_BYTES = 1 << 40
MAX_DIM = 1 << 16  # latent_dim, text_dim, any input dimension
MAX_IMAGE_SIDE = 1 << 14
MAX_CLASSES = 1 << 20
MAX_PATH_CHARS = 1024
DTYPES = ("float32", "int64", "uint8", "bool")  # bool: a token-level text model's text_mask
KINDS = ("none", "class", "text")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class PackageError(ValueError):
    """A model package that is missing, altered, malformed, or of a schema this runtime does not read."""


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _show(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _fail(pkg, field: str, problem: str, value=...) -> PackageError:
    got = "" if value is ... else f", got {_show(value)}"
    return PackageError(f"{pkg}: manifest field {field!r} {problem}{got}; re-export the package")


# -- paths -------------------------------------------------------------------------------------


def check_relative_path(pkg, rel, field: str) -> str:
    """`rel` if it is a normalised relative POSIX path without '..', else PackageError naming `field`."""
    if not isinstance(rel, str) or not rel:
        raise _fail(pkg, field, "must be a non-empty relative path", rel)
    if len(rel) > MAX_PATH_CHARS or "\x00" in rel or "\\" in rel or ":" in rel:
        raise _fail(pkg, field, "must be a plain relative path (no NUL, backslash or drive)", rel)
    parts = rel.split("/")
    if rel.startswith("/") or any(p in ("", ".", "..") for p in parts) or PurePosixPath(rel).as_posix() != rel:
        raise _fail(
            pkg, field, "must be a normalised relative path inside the package (no '/', '.', '..' components)", rel
        )
    return rel


def member_path(pkg_dir: str | os.PathLike, rel, field: str) -> Path:
    """The regular file `rel` inside the package: the path checked, and its real location (symlinks
    resolved) still inside the package."""
    pkg = Path(pkg_dir)
    check_relative_path(pkg, rel, field)
    root = os.path.realpath(pkg)
    real = os.path.realpath(pkg / rel)
    if os.path.commonpath([root, real]) != root:
        raise _fail(pkg, field, "points outside the package (a symlink out)", rel)
    try:
        st = os.stat(real)
    except OSError:
        raise PackageError(
            f"{pkg} is missing {rel}, which the manifest lists ({field}); copy the whole folder or re-export"
        ) from None
    if not stat.S_ISREG(st.st_mode):
        raise _fail(pkg, field, "must name a regular file", rel)
    return Path(real)


def read_member(pkg_dir: str | os.PathLike, rel: str, entry: dict | None, field: str) -> bytes:
    """The bytes of listed file `rel`; with `entry` ({sha256, bytes}) its size and sha256 are checked on
    exactly the bytes returned, so the file cannot change between the check and its use."""
    path = member_path(pkg_dir, rel, field)
    if entry is not None and os.stat(path).st_size != entry["bytes"]:
        raise PackageError(
            f"{Path(pkg_dir) / rel} was altered: {os.stat(path).st_size} bytes but the manifest "
            f"says {entry['bytes']}; restore the file or re-export the package"
        )
    data = path.read_bytes()
    if entry is not None:
        actual = hashlib.sha256(data).hexdigest()
        if actual != entry["sha256"]:
            raise PackageError(
                f"{Path(pkg_dir) / rel} was altered: sha256 {actual[:16]}... but the manifest says "
                f"{entry['sha256'][:16]}...; restore the file or re-export the package"
            )
    return data


# -- the schema --------------------------------------------------------------------------------


class _Fields:
    """Typed reads of manifest fields by dotted name; a wrong type or range is one PackageError line."""

    def __init__(self, pkg, manifest: dict):
        self.pkg, self.m = pkg, manifest

    def get(self, field: str, default=...):
        value = self.m
        for key in field.split("."):
            if not isinstance(value, dict):
                raise _fail(self.pkg, field.rsplit(".", 1)[0], "must be an object", value)
            if key not in value:
                if default is ...:
                    raise _fail(self.pkg, field, "is missing")
                return default
            value = value[key]
        return value

    def int_(self, field: str, lo: int, hi: int, default=...) -> int:
        value = self.get(field, default)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise _fail(self.pkg, field, f"must be an integer in [{lo}, {hi}]", value)
        return value

    def str_(self, field: str, choices: tuple | None = None, default=..., limit: int = 1000) -> str:
        value = self.get(field, default)
        if not isinstance(value, str) or len(value) > limit or (choices is not None and value not in choices):
            raise _fail(self.pkg, field, f"must be one of {list(choices)}" if choices else "must be a string", value)
        return value

    def dict_(self, field: str, default=...) -> dict:
        value = self.get(field, default)
        if not isinstance(value, dict):
            raise _fail(self.pkg, field, "must be an object", value)
        return value


def _check_tensor_specs(f: _Fields, field: str, limit: int) -> dict[str, dict]:
    specs = f.get(field)
    if not isinstance(specs, list) or not 1 <= len(specs) <= limit:
        raise _fail(f.pkg, field, f"must be a list of 1 to {limit} tensor specs", specs)
    out = {}
    for i, spec in enumerate(specs):
        name = f"{field}[{i}]"
        if not isinstance(spec, dict):
            raise _fail(f.pkg, name, "must be an object {name, dtype, shape}", spec)
        sub = _Fields(f.pkg, {name: spec})
        tensor = sub.str_(f"{name}.name", limit=100)
        sub.str_(f"{name}.dtype", DTYPES)
        shape = sub.get(f"{name}.shape")
        if (
            not isinstance(shape, list)
            or not 1 <= len(shape) <= 8
            or shape[0] != "batch"
            or not all(not isinstance(d, bool) and isinstance(d, int) and 1 <= d <= MAX_DIM for d in shape[1:])
        ):
            raise _fail(f.pkg, f"{name}.shape", f'must be ["batch", d1, ...] with dims in [1, {MAX_DIM}]', shape)
        if tensor in out:
            raise _fail(f.pkg, name, "repeats a name", tensor)
        out[tensor] = spec
    return out


def _expect_spec(f: _Fields, field: str, specs: dict, name: str, dtype: str, shape: list) -> None:
    spec = specs.get(name)
    if spec is None:
        raise _fail(f.pkg, field, f"lacks the {name!r} tensor", sorted(specs))
    if spec["dtype"] != dtype or spec["shape"] != shape:
        raise _fail(
            f.pkg,
            field,
            f"must give {name!r} as {dtype} {shape} (from the other fields)",
            [spec["dtype"], spec["shape"]],
        )


def validate_manifest(pkg, manifest) -> dict:
    """Every field the runtime reads: present, of the right type and range, consistent with the others."""
    f = _Fields(pkg, manifest)
    latent_dim = f.int_("latent_dim", 1, MAX_DIM)
    f.str_("model.name", limit=200)
    f.str_("precision", ("fp32", "fp16", "int8"), default="fp32")
    f.str_("format", ("onnx", "triton"), default="onnx")
    kind = f.str_("conditioning.kind", KINDS)
    f.int_("conditioning.num_classes", 1 if kind == "class" else 0, MAX_CLASSES, default=0)
    text_dim = f.int_("conditioning.text_dim", 1 if kind == "text" else 0, MAX_DIM, default=0)
    text_tokens = f.int_("conditioning.text_tokens", 0, 4096, default=0) if kind == "text" else 0
    token_dim = f.int_("conditioning.text_token_dim", 1 if text_tokens else 0, MAX_DIM, default=0) if text_tokens else 0
    if f.get("conditioning.text_encoder", None) is not None:
        f.str_("conditioning.text_encoder", limit=200)
    truncation = f.get("truncation", False)
    if not isinstance(truncation, bool):
        raise _fail(pkg, "truncation", "must be true or false", truncation)
    h = f.int_("image.height", 1, MAX_IMAGE_SIDE)
    w = f.int_("image.width", 1, MAX_IMAGE_SIDE)
    c = f.int_("image.channels", 1, 4)
    f.str_("image.layout", ("NHWC",), default="NHWC")
    f.str_("image.dtype", ("uint8",), default="uint8")

    inputs = _check_tensor_specs(f, "inputs", 6)
    expected = {INPUT_Z: ("float32", ["batch", latent_dim])}
    if kind == "class":
        expected[INPUT_LABELS] = ("int64", ["batch"])
    if kind == "text":
        expected[INPUT_EMBEDDINGS] = ("float32", ["batch", text_dim])
        if text_tokens:
            expected[INPUT_TEXT_TOKENS] = ("float32", ["batch", text_tokens, token_dim])
            expected[INPUT_TEXT_MASK] = ("bool", ["batch", text_tokens])
    if truncation:
        expected[INPUT_TRUNCATION] = ("float32", ["batch"])
    for name, (dtype, shape) in expected.items():
        _expect_spec(f, "inputs", inputs, name, dtype, shape)
    if set(inputs) != set(expected):
        raise _fail(
            pkg,
            "inputs",
            f"must be exactly {sorted(expected)} for a {kind!r} model{' with truncation' if truncation else ''}",
            sorted(inputs),
        )
    outputs = _check_tensor_specs(f, "outputs", 4)
    _expect_spec(f, "outputs", outputs, OUTPUT_IMAGES, "uint8", ["batch", h, w, c])

    files = f.dict_("files")
    if not 1 <= len(files) <= MAX_FILES:
        raise _fail(pkg, "files", f"must list 1 to {MAX_FILES} files", len(files))
    for rel, entry in files.items():
        check_relative_path(pkg, rel, f"files[{json.dumps(rel)}]")
        if rel == MANIFEST:
            raise _fail(pkg, "files", "must not list the manifest itself", rel)
        if not isinstance(entry, dict):
            raise _fail(pkg, f"files[{json.dumps(rel)}]", "must be an object {sha256, bytes}", entry)
        sha = entry.get("sha256")
        if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
            raise _fail(pkg, f"files[{json.dumps(rel)}].sha256", "must be 64 lower-case hex digits", sha)
        size = entry.get("bytes")
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_FILE_BYTES:
            raise _fail(pkg, f"files[{json.dumps(rel)}].bytes", f"must be an integer in [0, {MAX_FILE_BYTES}]", size)
    graph = check_relative_path(pkg, f.get("graph"), "graph")
    if graph not in files:
        raise _fail(pkg, "graph", "must be listed under files", graph)
    if kind == "text" and f.get("text_encoder", None) is not None:
        check_text_encoder_entry(pkg, f.get("text_encoder"), text_dim, files)
    if f.get("vocabulary", None) is not None:
        from zoo_runtime.text.vocabulary import check_held_out_combos, check_spellings, check_vocabulary

        vocabulary = f.dict_("vocabulary")
        checks = {"words": check_vocabulary, "held_out_combos": check_held_out_combos, "spellings": check_spellings}
        for key, check in checks.items():
            value = vocabulary.get(key)
            if value is None and key != "words":  # optional: packages exported before them lack them
                continue
            try:
                check(value)
            except ValueError as e:
                raise _fail(pkg, f"vocabulary.{key}", str(e), value) from None
    if f.get("synthesis", None) is not None:  # w-space graphs (models with a mapping network)
        f.dict_("synthesis")
        f.int_("synthesis.w_dim", 1, MAX_DIM)
        f.int_("synthesis.num_ws", 1, 1024)
        for key in ("mapping", "synthesis"):
            rel = check_relative_path(pkg, f.get(f"synthesis.{key}"), f"synthesis.{key}")
            if rel not in files:
                raise _fail(pkg, f"synthesis.{key}", "must be listed under files (it would load unchecked)", rel)
    return manifest


def check_text_encoder_entry(pkg, entry, text_dim: int | None = None, files: dict | None = None) -> dict:
    """A text encoder's manifest entry: types and ranges; with `files`, every file it names is listed."""
    if not isinstance(entry, dict):
        raise _fail(pkg, "text_encoder", "must be an object", entry)
    f = _Fields(pkg, {"text_encoder": entry})
    f.str_("text_encoder.kind", limit=100)
    f.str_("text_encoder.name", default="?", limit=200)
    dim = f.int_("text_encoder.dim", 1, MAX_DIM)
    if text_dim is not None and dim != text_dim:
        raise _fail(pkg, "text_encoder.dim", f"must equal conditioning.text_dim ({text_dim})", dim)
    named = f.get("text_encoder.files", [])
    if not isinstance(named, list) or len(named) > MAX_FILES:
        raise _fail(pkg, "text_encoder.files", "must be a list of paths", named)
    named = [check_relative_path(pkg, p, "text_encoder.files") for p in named]
    if entry["kind"] == "onnx-transformer":
        named += [
            check_relative_path(pkg, f.get(f"text_encoder.{key}"), f"text_encoder.{key}")
            for key in ("onnx", "tokenizer")
        ]
        f.int_("text_encoder.max_length", 1, MAX_DIM)
        f.int_("text_encoder.pad_id", 0, 1 << 31, default=0)
        f.str_("text_encoder.pad_token", default="[PAD]", limit=100)
        f.str_("text_encoder.output", default="embeddings", limit=100)
    if entry["kind"] == "hash":
        f.int_("text_encoder.version", 0, 1 << 31, default=1)
    if files is not None:
        unlisted = [p for p in named if p not in files]
        if unlisted:
            raise _fail(pkg, "text_encoder", "names files the manifest's files do not list (unchecked)", unlisted)
    return entry


def read_manifest(pkg_dir: str | os.PathLike, verify: bool = True) -> dict:
    """The package's manifest, checked: schema version known, every field valid (`validate_manifest`),
    every listed file inside the package, present, of its listed size and (with `verify`) sha256."""
    pkg = Path(pkg_dir)
    if not pkg.is_dir():
        raise PackageError(f"{pkg} is not a model package folder; create one with `zoo export MODEL --out {pkg}`")
    path = pkg / MANIFEST
    if not path.is_file() and not path.is_symlink():
        raise PackageError(f"{pkg} has no {MANIFEST}: not a model package (create one with `zoo export`)")
    real = member_path(pkg, MANIFEST, MANIFEST)
    if os.stat(real).st_size > MAX_MANIFEST_BYTES:
        raise PackageError(
            f"{path} is {os.stat(real).st_size} bytes, more than a manifest's {MAX_MANIFEST_BYTES}; "
            "not a gan-zoo model package"
        )
    try:
        manifest = json.loads(real.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:  # ValueError: bad JSON, huge ints
        raise PackageError(f"{path} is not valid JSON ({str(e)[:100]}); re-export the package") from None
    if not isinstance(manifest, dict) or manifest.get("schema") != SCHEMA:
        got = _show(manifest.get("schema")) if isinstance(manifest, dict) else repr(type(manifest).__name__)
        raise PackageError(f"{path} is not a gan-zoo model package manifest (expected schema {SCHEMA!r}, got {got})")
    version = manifest.get("schema_version")
    if isinstance(version, bool) or version not in SUPPORTED_SCHEMA_VERSIONS:
        from zoo_runtime import __version__

        raise PackageError(
            f"{path} has manifest schema version {_show(version)}; this zoo_runtime {__version__} reads "
            f"versions {list(SUPPORTED_SCHEMA_VERSIONS)}: upgrade zoo-runtime or re-export the package"
        )
    validate_manifest(pkg, manifest)
    for rel, entry in manifest["files"].items():
        f = member_path(pkg, rel, f"files[{json.dumps(rel)}]")
        size = os.stat(f).st_size
        if size != entry["bytes"]:  # before hashing: a wrong size needs no read
            raise PackageError(
                f"{pkg / rel} was altered: {size} bytes but the manifest says {entry['bytes']}; "
                "restore the file or re-export the package"
            )
        if verify:
            actual = sha256_file(f)
            if actual != entry["sha256"]:
                raise PackageError(
                    f"{pkg / rel} was altered: sha256 {actual[:16]}... but the manifest says "
                    f"{entry['sha256'][:16]}...; restore the file or re-export the package"
                )
    return manifest


# -- what an ONNX graph loads besides itself ---------------------------------------------------

# Field numbers in onnx.proto of the messages that can hold a tensor (and so external data).
_MODEL_GRAPH, _MODEL_FUNCTIONS, _FUNCTION_NODE = 7, 25, 7
_GRAPH_NODE, _GRAPH_INITIALIZER, _GRAPH_SPARSE_INITIALIZER = 1, 5, 15
_NODE_ATTRIBUTE = 5
_ATTR_TENSOR, _ATTR_GRAPH, _ATTR_TENSORS, _ATTR_GRAPHS, _ATTR_SPARSE, _ATTR_SPARSES = 5, 6, 10, 11, 22, 23
_SPARSE_VALUES, _SPARSE_INDICES = 1, 2
_TENSOR_EXTERNAL_DATA = 13
_ENTRY_KEY, _ENTRY_VALUE = 1, 2
_MAX_NESTING = 64


def external_data_files(graph: bytes) -> list[str]:
    """The external-data files an ONNX model (serialised bytes) refers to, as written in the graph.

    Read with protobuf's generic wire parser (onnxruntime depends on protobuf; the runtime does not
    need the `onnx` package): ModelProto -> graphs, functions, nodes, attributes -> TensorProto's
    `external_data` entries with key "location". Raises ValueError for bytes that are not protobuf.
    """
    from google.protobuf import empty_pb2
    from google.protobuf.message import DecodeError
    from google.protobuf.unknown_fields import UnknownFieldSet

    def fields(data: bytes):
        message = empty_pb2.Empty()
        message.ParseFromString(data)
        return [(f.field_number, f.data) for f in UnknownFieldSet(message) if f.wire_type == 2]

    found: list[str] = []

    def tensor(data, depth):
        for number, value in fields(data):
            if number == _TENSOR_EXTERNAL_DATA:
                entry = dict(fields(value))
                if entry.get(_ENTRY_KEY) == b"location":
                    found.append(entry.get(_ENTRY_VALUE, b"").decode("utf-8", "replace"))

    def sparse(data, depth):
        for number, value in fields(data):
            if number in (_SPARSE_VALUES, _SPARSE_INDICES):
                tensor(value, depth + 1)

    def node(data, depth):
        for number, value in fields(data):
            if number != _NODE_ATTRIBUTE:
                continue
            for anumber, avalue in fields(value):
                if anumber in (_ATTR_TENSOR, _ATTR_TENSORS):
                    tensor(avalue, depth + 1)
                elif anumber in (_ATTR_SPARSE, _ATTR_SPARSES):
                    sparse(avalue, depth + 1)
                elif anumber in (_ATTR_GRAPH, _ATTR_GRAPHS):
                    graph_(avalue, depth + 1)

    def graph_(data, depth):
        if depth > _MAX_NESTING:
            raise ValueError(f"subgraphs nested more than {_MAX_NESTING} deep")
        for number, value in fields(data):
            if number == _GRAPH_NODE:
                node(value, depth)
            elif number == _GRAPH_INITIALIZER:
                tensor(value, depth)
            elif number == _GRAPH_SPARSE_INITIALIZER:
                sparse(value, depth)

    try:
        for number, value in fields(graph):
            if number == _MODEL_GRAPH:
                graph_(value, 0)
            elif number == _MODEL_FUNCTIONS:
                for fnumber, fvalue in fields(value):
                    if fnumber == _FUNCTION_NODE:
                        node(fvalue, 0)
    except (DecodeError, RecursionError) as e:
        raise ValueError(f"not an ONNX model ({e})") from None
    return found


def read_graph(pkg, manifest: dict, rel: str, field: str, verify: bool = True) -> bytes:
    """The bytes of listed ONNX graph `rel`, size and (with `verify`) sha256 checked on these very bytes,
    its external data listed too. Give them to ONNX Runtime with `external_data_folder(pkg, rel)`."""
    graph = read_member(pkg, rel, manifest["files"][rel] if verify else None, field)
    check_external_data(pkg, rel, graph, manifest["files"])
    return graph


# ONNX Runtime's session option naming where a model loaded from bytes finds its external data (it
# refuses locations that leave that folder).
EXTERNAL_DATA_FOLDER = "session.model_external_initializers_file_folder_path"


def external_data_folder(pkg, rel: str) -> str:
    return str((Path(pkg) / rel).parent)


def check_external_data(pkg, graph_rel: str, graph: bytes, files: dict) -> list[str]:
    """The external-data files of graph `graph_rel` (its bytes), each a checked path listed in `files`
    (so read_manifest has checked its size and sha256), relative to the package."""
    try:
        locations = external_data_files(graph)
    except ValueError as e:
        raise PackageError(f"{pkg}: {graph_rel} is {e}; re-export the package") from None
    folder = PurePosixPath(graph_rel).parent
    listed = []
    for location in sorted(set(locations)):
        rel = (folder / location).as_posix() if str(folder) != "." else location
        check_relative_path(pkg, rel, f"{graph_rel} external data")
        if rel not in files:
            raise PackageError(
                f"{pkg}: {graph_rel} loads external data {location!r} that the manifest's files do "
                "not list (it would load unchecked); re-export the package"
            )
        member_path(pkg, rel, f"{graph_rel} external data")
        listed.append(rel)
    return listed


_ORT_DTYPES = {"float32": "tensor(float)", "int64": "tensor(int64)", "uint8": "tensor(uint8)", "bool": "tensor(bool)"}


def check_graph_io(pkg, manifest: dict, session, graph_rel: str | None = None) -> None:
    """The manifest's inputs and outputs against the loaded graph's own (names, dtypes, fixed dims), so a
    disagreement is one line at load instead of an ONNX Runtime error at the first request."""
    graph_rel = graph_rel or manifest["graph"]
    for field, declared, actual in (
        ("inputs", manifest["inputs"], session.get_inputs()),
        ("outputs", manifest["outputs"], session.get_outputs()),
    ):
        real = {t.name: t for t in actual}
        names = [spec["name"] for spec in declared]
        if sorted(names) != sorted(real):
            raise PackageError(
                f"{pkg}: manifest field {field!r} names {sorted(names)} but {graph_rel} has "
                f"{field} {sorted(real)}; re-export the package"
            )
        for spec in declared:
            t = real[spec["name"]]
            shape = list(t.shape)
            fixed_ok = len(shape) == len(spec["shape"]) and all(
                not isinstance(d, int) or s == "batch" or d == s for d, s in zip(shape, spec["shape"])
            )
            if t.type != _ORT_DTYPES[spec["dtype"]] or not fixed_ok:
                shown = ["batch" if not isinstance(d, int) else d for d in shape]
                raise PackageError(
                    f"{pkg}: manifest field {field!r} gives {spec['name']!r} as {spec['dtype']} "
                    f"{spec['shape']} but {graph_rel} has {t.type} {shown} (latent_dim, "
                    "conditioning or image disagree with the graph); re-export the package"
                )
