"""The model registry: names, specs, plugins (timm's registry, extended for GANs).

A *model name* is `arch` or `arch.tag`: `dcgan32` is an architecture, `dcgan32.digits` is that
architecture with the weights pretrained on the bundled digits. Architectures register themselves
with `@register_model` when their module is imported: built-in modules are listed in
`BUILTIN_MODULES`, plugins arrive through the `gan_zoo.models` entry-point group (zoo.plugins).

Listing must not import torch (`zoo list` stays fast), so the registry keeps an *index* of every
spec's plain data in the cache, keyed by a fingerprint of the modules and plugins that produced it.
See docs/architecture.md.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import os
import re
import sys
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from zoo import plugins
from zoo.plugins import MODEL_ENTRY_POINTS, PluginStatus
from zoo.plugins import TEXT_ENCODER_ENTRY_POINTS as TEXT_ENCODER_ENTRY_POINTS  # (its old home)

BUILTIN_MODULES = (
    "zoo.archs.mlpgan",
    "zoo.archs.dcgan",
    "zoo.archs.stylegan2",
    "zoo.archs.stylegan2_ada",
    "zoo.archs.r3gan",
)
CONDITIONING_KINDS = ("none", "class", "text")


class UnknownModelError(KeyError):
    """A model name that no registered architecture or tag matches."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0])


class ConfigError(ValueError):
    """A config the architecture does not accept."""


@dataclass(frozen=True)
class WeightSource:
    """Where a tag's weights live, and the sha256 they must have.

    `url` is one of: `package:FILE` (inside `zoo/pretrained/`, sha256 from its index.json),
    a local path or `file://` URL, an `https://` URL, or `hf-hub:org/repo/path/in/repo`.
    """

    url: str
    sha256: str | None = None  # required for every source except `package:`
    license: str = "unknown"
    config: dict | None = None  # config overrides these weights were trained with (for listing)
    size: int | None = None  # bytes, when known: a download that is larger stops there


@dataclass
class ModelSpec:
    name: str
    family: str
    builder: Callable[[dict], Any] | None  # config -> (generator, discriminator); None in the index
    default_config: dict
    pretrained: dict[str, WeightSource] = field(default_factory=dict)
    description: str = ""
    module: str = ""
    source: str = "builtin"  # "builtin" or the plugin distribution's name

    @property
    def conditioning(self) -> str:
        return self.default_config.get("conditioning", "none")

    def config_of(self, tag: str | None) -> dict:
        """The default config, with the tag's trained-with overrides when a tag is given."""
        extra = (self.pretrained[tag].config or {}) if tag else {}
        return {**self.default_config, **extra}

    def conditioning_of(self, tag: str | None) -> str:
        return self.config_of(tag).get("conditioning", "none")

    def to_index(self) -> dict:
        data = asdict(self)
        data.pop("builder")
        return data

    @classmethod
    def from_index(cls, data: dict) -> ModelSpec:
        data = dict(data)
        data["pretrained"] = {t: WeightSource(**w) for t, w in data["pretrained"].items()}
        return cls(builder=None, **data)


# --- registration ----------------------------------------------------------------------------

_specs: dict[str, ModelSpec] = {}
_plugins: list[PluginStatus] = []
_loading_source = "builtin"  # which distribution the module being imported belongs to
_loading_top = ""  # the top-level package its entry point names
_imported = False


def register_model(
    *,
    family: str,
    default_config: dict,
    pretrained: dict[str, WeightSource] | None = None,
) -> Callable:
    """Register a builder `fn(config) -> (generator, discriminator)` under the function's name.

    The docstring's first line becomes the description shown by `zoo list`.
    """

    def decorate(fn: Callable) -> Callable:
        name = fn.__name__
        conditioning = default_config.get("conditioning", "none")
        if conditioning not in CONDITIONING_KINDS:
            raise ConfigError(f"{name}: conditioning must be one of {CONDITIONING_KINDS}, got {conditioning!r}")
        source = _source_of(fn.__module__)
        existing = _specs.get(name)
        if existing is not None and existing.module != fn.__module__:
            if existing.source == "builtin":
                raise ValueError(
                    f"{fn.__module__} tries to register {name!r}, a built-in model name; "
                    "a plugin may not shadow a built-in model: rename it"
                )
            if source == "builtin":  # a module imported before discovery took a built-in name: it loses
                warnings.warn(
                    f"{existing.module} registered {name!r}, a built-in model name; the built-in "
                    "model replaces it: rename the plugin's model",
                    RuntimeWarning,
                    stacklevel=2,
                )
            else:
                raise ValueError(f"{name!r} is registered twice ({existing.module} and {fn.__module__})")
        _specs[name] = ModelSpec(
            name=name,
            family=family,
            builder=fn,
            default_config=dict(default_config),
            pretrained=dict(pretrained or {}),
            description=(fn.__doc__ or "").strip().split("\n")[0],
            module=fn.__module__,
            source=source,
        )
        return fn

    return decorate


def _source_of(module: str) -> str:
    """Which distribution registers from `module`: the one whose entry point is loading, when the module
    is in that entry point's package; else "builtin" for the zoo's own modules; else (a plugin's module
    imported directly, or by another plugin) the distribution whose entry point names the module's
    package, or that installed it, else the module's top-level name."""
    top = module.split(".")[0]
    if _loading_source != "builtin" and top == _loading_top:
        return _loading_source  # (a plugin importing another plugin's module: that one's models are its own)
    if top == "zoo":
        return "builtin"
    return plugins.distribution_of_package(top, MODEL_ENTRY_POINTS)


def _import_builtins() -> None:
    global _loading_source
    _loading_source = "builtin"
    for module in BUILTIN_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name != module:  # the module exists but one of its imports is missing: a real error
                raise


def _import_plugins() -> None:
    """Import every `gan_zoo.models` plugin; a failing one is recorded and warned about, never raised."""
    global _loading_source, _loading_top
    for ep in plugins.entry_points(MODEL_ENTRY_POINTS):
        dist = plugins.distribution_name(ep)
        before = set(_specs)

        def rollback(before: set = before, dist: str = dist) -> None:  # drop the broken plugin's half-registered
            for name in set(_specs) - before:  # models (only its own)
                if _specs[name].source == dist:
                    del _specs[name]

        _loading_source, _loading_top = dist, plugins.top_package(ep)
        try:
            _, status = plugins.load_isolated(ep, MODEL_ENTRY_POINTS, rollback=rollback)
        finally:
            _loading_source, _loading_top = "builtin", ""
        _plugins.append(status)


def _ensure_imported() -> None:
    global _imported
    if not _imported:
        _imported = True
        _import_builtins()
        _import_plugins()


# --- the index: listing without importing torch ----------------------------------------------


def zoo_home() -> Path:
    return Path(os.environ.get("GAN_ZOO_HOME", Path.home() / ".cache" / "gan-zoo"))


def _fingerprint() -> str:
    from zoo.version import __version__

    parts = [__version__, sys.version.split()[0], os.environ.get("GAN_ZOO_DISABLE_PLUGINS", "")]
    for module in BUILTIN_MODULES:
        path = Path(__file__).parent / "archs" / (module.rsplit(".", 1)[1] + ".py")
        parts.append(f"{path.name}:{path.stat().st_mtime_ns if path.exists() else 0}")
    index = Path(__file__).parent / "pretrained" / "index.json"
    parts.append(f"index:{index.stat().st_mtime_ns if index.exists() else 0}")
    return "|".join(parts + plugins.fingerprint(MODEL_ENTRY_POINTS))


def _index_path() -> Path:
    return zoo_home() / "registry-index.json"


def _read_index() -> tuple[dict[str, ModelSpec], list[PluginStatus]] | None:
    data = plugins.read_index(_index_path(), _fingerprint())
    if data is None:
        return None
    try:
        specs = {d["name"]: ModelSpec.from_index(d) for d in data["models"]}
        return specs, [PluginStatus(**p) for p in data["plugins"]]
    except (KeyError, TypeError):
        return None


def _write_index() -> None:
    data = {"models": [s.to_index() for s in _specs.values()], "plugins": [asdict(p) for p in _plugins]}
    plugins.write_index(_index_path(), _fingerprint(), data)


def _all_specs(fast: bool = True) -> dict[str, ModelSpec]:
    """Every spec; from the index when `fast` and the index is current, else by importing."""
    if fast and not _imported:
        cached = _read_index()
        # a plugin that failed is imported again: installing its missing dependency changes nothing the
        # index is keyed on, and a stale "failed" would hide its models (it costs speed only while broken)
        if cached is not None and not any(p.group == MODEL_ENTRY_POINTS and p.status == "failed" for p in cached[1]):
            return cached[0]
    _ensure_imported()
    _write_index()
    return _specs


# --- queries --------------------------------------------------------------------------------


def _natural_key(name: str) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def list_models(pattern: str | None = None, pretrained: bool = False, conditioning: str | None = None) -> list[str]:
    """Model names matching `pattern` (fnmatch), naturally sorted.

    With `pretrained=True` the names carry their tags (`dcgan32.digits`) and only models with
    weights are listed; otherwise architecture names are listed. `conditioning` filters by
    "none", "class" or "text".
    """
    names = []
    for spec in _all_specs().values():
        if pretrained:
            names += [
                f"{spec.name}.{tag}"
                for tag, src in spec.pretrained.items()
                if conditioning is None or spec.conditioning_of(tag) == conditioning
            ]
        elif conditioning is None or spec.conditioning == conditioning:
            names.append(spec.name)
    if pattern:
        names = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
    return sorted(names, key=_natural_key)


def split_name(name: str) -> tuple[str, str | None]:
    arch, _, tag = name.partition(".")
    return arch, (tag or None)


def resolve(name: str, fast: bool = False) -> tuple[ModelSpec, str | None]:
    """The spec and tag for `arch` or `arch.tag`; an unknown name suggests close ones."""
    arch, tag = split_name(name)
    specs = _all_specs(fast=fast)
    spec = specs.get(arch)
    if spec is None:
        known = list(specs) + [f"{s.name}.{t}" for s in specs.values() for t in s.pretrained]
        close = difflib.get_close_matches(name, known, n=5, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise UnknownModelError(f"unknown model {name!r}.{hint} Run `zoo list` to see every model.")
    if tag is not None and tag not in spec.pretrained:
        tags = ", ".join(f"{arch}.{t}" for t in spec.pretrained) or "none"
        raise UnknownModelError(f"{arch!r} has no pretrained weights tagged {tag!r}; available: {tags}")
    return spec, tag


def get_spec(name: str) -> ModelSpec:
    return resolve(name)[0]


def model_infos(pattern: str | None = None, pretrained: bool = False) -> list[dict]:
    """Rows for `zoo list`: name, family, resolution, channels, latent, conditioning, tags, source."""
    specs = _all_specs()
    rows = []
    for name in list_models(pattern, pretrained=pretrained):
        spec, tag = resolve(name, fast=True) if name.split(".")[0] in specs else (None, None)
        if spec is None:
            continue
        cfg = spec.config_of(tag)
        rows.append(
            {
                "name": name,
                "family": spec.family,
                "resolution": cfg.get("resolution"),
                "channels": cfg.get("channels"),
                "latent_dim": cfg.get("latent_dim"),
                "conditioning": cfg.get("conditioning", "none"),
                "tags": list(spec.pretrained) if tag is None else [tag],
                "source": spec.source,
                "description": spec.description,
            }
        )
    return rows


def plugin_statuses() -> list[PluginStatus]:
    """Each model and text-encoder plugin: its distribution, and whether it loaded (and why not)."""
    _ensure_imported()
    from zoo.text import registry as text_registry  # (the text registry never imports this one)

    return list(_plugins) + text_registry.plugin_statuses()
