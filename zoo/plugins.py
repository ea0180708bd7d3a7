"""Plugin discovery, shared by the model registry (zoo.registry, entry-point group `gan_zoo.models`)
and the text-encoder registry (zoo.text.registry, group `gan_zoo.text_encoders`).

One set of rules for both: entry points are found sorted by name (none when
GAN_ZOO_DISABLE_PLUGINS=1); each is loaded in isolation, so a plugin that fails is recorded as a
`PluginStatus` and warned about once, never raised (GAN_ZOO_DEBUG_PLUGINS=1 prints its traceback);
`fingerprint` and the index file let the model registry list plugins without importing them.
See docs/architecture.md.
"""

from __future__ import annotations

import json
import os
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

MODEL_ENTRY_POINTS = "gan_zoo.models"
TEXT_ENCODER_ENTRY_POINTS = "gan_zoo.text_encoders"
WHAT = {MODEL_ENTRY_POINTS: "plugin", TEXT_ENCODER_ENTRY_POINTS: "text-encoder plugin"}  # for messages


@dataclass
class PluginStatus:
    group: str
    name: str
    value: str
    distribution: str
    status: str  # "loaded" or "failed"
    error: str = ""


def entry_points(group: str) -> list[metadata.EntryPoint]:
    """The group's entry points sorted by name; none when GAN_ZOO_DISABLE_PLUGINS=1."""
    if os.environ.get("GAN_ZOO_DISABLE_PLUGINS") == "1":
        return []
    return sorted(metadata.entry_points(group=group), key=lambda ep: ep.name)


def distribution_name(ep: metadata.EntryPoint) -> str:
    return ep.dist.name if ep.dist is not None else "?"


def top_package(ep: metadata.EntryPoint) -> str:
    """The top-level package an entry point's module is in (`zoo_sngan` for `zoo_sngan.models:x`)."""
    return ep.value.split(":")[0].split(".")[0]


def distribution_of_package(top: str, group: str) -> str:
    """Which distribution a top-level package belongs to: the one whose `group` entry point names it,
    else the one that installed it, else the package's own name."""
    for ep in metadata.entry_points(group=group):
        if top_package(ep) == top:
            return distribution_name(ep)
    owners = metadata.packages_distributions().get(top)
    return owners[0] if owners else top


def load_isolated(
    ep: metadata.EntryPoint,
    group: str,
    check: Callable[[Any], None] | None = None,
    rollback: Callable[[], None] | None = None,
) -> tuple[Any, PluginStatus]:
    """(what the entry point names, its status): any exception while loading it, or from `check(obj)`,
    makes the status "failed" (after `rollback()`, which undoes what the plugin half-registered)."""
    dist = distribution_name(ep)
    try:
        obj = ep.load()
        if check is not None:
            check(obj)
    except Exception as e:  # noqa: BLE001 -- isolation: any failure in a plugin is its own
        if rollback is not None:
            rollback()
        status = failed(ep, group, f"{type(e).__name__}: {e}")
        if os.environ.get("GAN_ZOO_DEBUG_PLUGINS") == "1":
            traceback.print_exc()
        return None, status
    return obj, PluginStatus(group, ep.name, ep.value, dist, "loaded")


_warned: set[tuple[str, str]] = set()  # (group, name) of plugins already warned about in this process


def failed(ep: metadata.EntryPoint, group: str, reason: str) -> PluginStatus:
    """The status of a plugin that is skipped; warns about it once per process."""
    status = PluginStatus(group, ep.name, ep.value, distribution_name(ep), "failed", reason)
    if (group, ep.name) not in _warned:
        _warned.add((group, ep.name))
        warnings.warn(
            f"gan-zoo {WHAT.get(group, 'plugin')} {ep.name!r} from {status.distribution} failed to "
            f"load and is skipped ({reason}); run `zoo plugins` for details",
            RuntimeWarning,
            stacklevel=4,
        )
    return status


# --- the index: what the plugins provided, keyed by what could change it -------------------------------


def fingerprint(group: str) -> list[str]:
    """One string per entry point of `group` that changes when the plugin is installed, upgraded or
    edited (an editable install's files), found without importing it."""
    parts = []
    for ep in entry_points(group):
        version = ep.dist.version if ep.dist is not None else "?"
        parts.append(f"{ep.name}={ep.value}@{distribution_name(ep)}=={version}:{source_mtime(ep.value)}")
    return parts


def source_mtime(entry_value: str) -> int:
    """Newest mtime of a plugin's top-level module or package files, found without importing it."""
    import importlib.util

    top = entry_value.split(":")[0].split(".")[0]
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return 0
    if spec is None:
        return 0
    paths = [Path(spec.origin)] if spec.origin and spec.origin not in ("built-in", "frozen") else []
    for location in spec.submodule_search_locations or []:
        paths += Path(location).rglob("*.py")
    return max((p.stat().st_mtime_ns for p in paths if p.exists()), default=0)


def read_index(path: Path, key: str) -> dict | None:
    """The index's data when it was written under the same `key` (a fingerprint), else None."""
    try:
        data = json.loads(path.read_text())
        return data["data"] if data.get("fingerprint") == key else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_index(path: Path, key: str, data: dict) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps({"fingerprint": key, "data": data}))
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache only costs speed
