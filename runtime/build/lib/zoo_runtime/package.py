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
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

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
OUTPUT_IMAGES = "images"

# How the float generator output x in [-1, 1] becomes a pixel, inside the graph: exactly
# zoo.images.to_uint8 (round half up), so runtime pixels equal `zoo sample` pixels.
PIXEL_FORMULA = "uint8(floor(clip((x + 1) * 127.5 + 0.5, 0, 255))), then NCHW -> NHWC"


class PackageError(ValueError):
    """A model package that is missing, altered, or of a schema this runtime does not read."""


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def read_manifest(pkg_dir: str | os.PathLike, verify: bool = True) -> dict:
    """The package's manifest, checked: schema version known, every listed file present and (with
    `verify`) of the sha256 the manifest records."""
    pkg = Path(pkg_dir)
    if not pkg.is_dir():
        raise PackageError(f"{pkg} is not a model package folder; create one with `zoo export MODEL --out {pkg}`")
    path = pkg / MANIFEST
    if not path.is_file():
        raise PackageError(f"{pkg} has no {MANIFEST}: not a model package (create one with `zoo export`)")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise PackageError(f"{path} is not valid JSON ({e}); re-export the package") from e
    if not isinstance(manifest, dict) or manifest.get("schema") != SCHEMA:
        raise PackageError(f"{path} is not a gan-zoo model package manifest (expected schema {SCHEMA!r}, "
                           f"got {manifest.get('schema') if isinstance(manifest, dict) else type(manifest).__name__!r})")
    version = manifest.get("schema_version")
    if version not in SUPPORTED_SCHEMA_VERSIONS:
        from zoo_runtime import __version__

        raise PackageError(f"{path} has manifest schema version {version!r}; this zoo_runtime {__version__} reads "
                           f"versions {list(SUPPORTED_SCHEMA_VERSIONS)}: upgrade zoo-runtime or re-export the package")
    missing_keys = [k for k in ("latent_dim", "conditioning", "inputs", "outputs", "image", "graph", "files")
                    if k not in manifest]
    if missing_keys:
        raise PackageError(f"{path} lacks {missing_keys}; re-export the package")
    files = manifest["files"]
    if manifest["graph"] not in files:
        raise PackageError(f"{path} does not list its graph {manifest['graph']!r} under files; re-export the package")
    for rel, entry in files.items():
        f = pkg / rel
        if not f.is_file():
            raise PackageError(f"{pkg} is missing {rel}, which the manifest lists; copy the whole folder or re-export")
        if verify:
            actual = sha256_file(f)
            if actual != entry["sha256"]:
                raise PackageError(f"{f} was altered: sha256 {actual[:16]}... but the manifest says "
                                   f"{entry['sha256'][:16]}...; restore the file or re-export the package")
    return manifest
