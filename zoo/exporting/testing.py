"""Helpers for tests and benchmarks that export many models quickly.

`tiny_config(name)` shrinks an architecture through the config keys it already has (width,
max_channels, hidden), never adding keys an architecture does not accept; `cached_export` exports
each (model, config, precision, format) once per process, so a test session pays once per model.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

_cache: dict[str, tuple] = {}
_lock = threading.Lock()

# Smaller values for config keys that only set the size of a network.
TINY_VALUES = {"width": 8, "d_width": 8, "max_channels": 16, "hidden": [32, 64], "w_dim": 32, "mapping_layers": 2}


def tiny_config(name: str) -> dict:
    """Overrides that make `name` small, for the keys its default config has (plugins included)."""
    from zoo.registry import resolve

    spec, tag = resolve(name)
    config = spec.config_of(tag)
    return {k: v for k, v in TINY_VALUES.items() if k in config}


def cached_export(
    root: str | os.PathLike,
    name: str,
    precision: str = "fp32",
    format: str = "onnx",
    tiny: bool = True,
    pretrained: bool = False,
    **config,
) -> tuple[Path, object]:
    """(package path, the GAN it was exported from): `zoo.export` of `create_model(name, pretrained,
    **tiny_config, **config)` into `root`, once per process; random weights are drawn from seed 0."""
    from zoo.exporting import export
    from zoo.factory import create_model

    overrides = {**(tiny_config(name) if tiny else {}), **config}
    key = json.dumps([str(root), name, precision, format, pretrained, overrides], sort_keys=True)
    with _lock:
        if key not in _cache or not _cache[key][0].exists():
            slug = hashlib.sha1(key.encode()).hexdigest()[:10]
            out = Path(root) / f"{name.replace('.', '_')}-{precision}-{format}-{slug}"
            import torch

            with torch.random.fork_rng():  # the same weights in every run: a test's verdict does not vary
                torch.manual_seed(0)
                model = create_model(name, pretrained=pretrained, **overrides)
            path = export(
                model, out, precision=precision, format=format, progress=False, quality_n=160, calibration_n=64
            )
            _cache[key] = (path, model)
        return _cache[key]
