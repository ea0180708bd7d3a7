"""Read network pickles without running anything from them.

`pickle.load` calls whatever globals a file names (`os.system` included), NVlabs' network pickles
(stylegan2-ada-pytorch, stylegan3) rebuild each network by executing Python source stored inside
the file (`torch_utils.persistence`), and R3GAN's import the classes they name. `RestrictedUnpickler` resolves only an
allow-list of globals: ordered dicts and sets, numpy arrays and scalars, tensors and parameters
(their storages are read by `torch.load(weights_only=True)`), `dnnlib.EasyDict` as a dict. The
persistence hook is intercepted: each network becomes a `PersistentRecord` (class name, constructor
arguments, parameters, buffers, sub-networks) and its stored source is kept as text, never run.
Modules pickled by class (a plain `pickle.dump` of an nn.Module, as brownvc/R3GAN's snapshots are)
are read the same way when their module is on the `modules_as_data` list the caller passes: each
becomes a `PickledModule`, a record of its `__dict__`; its class is never imported. Any other global
is refused with `RefusedGlobal` naming it. Importers of other formats pass `extra` globals (only
ones that cannot run code) and read the records.
"""

from __future__ import annotations

import collections
import functools
import io
import os
import pickle
from typing import Any, BinaryIO

import torch

PERSISTENCE_HOOK = ("torch_utils.persistence", "_reconstruct_persistent_obj")
MAX_CLASSES = 256


class RefusedGlobal(pickle.UnpicklingError):
    """The pickle names a global outside the allow-list: nothing was called."""

    def __init__(self, module: str, name: str):
        self.module, self.name = module, name
        super().__init__(f"refused to load global {module}.{name} (not on the allow-list of data types)")


class EasyDictData(dict):
    """Stands in for dnnlib.EasyDict: a plain dict that ignores the (empty) attribute state."""

    def __setstate__(self, state) -> None:
        if isinstance(state, dict):
            self.update(state)


class PersistentRecord:
    """A torch_utils.persistence object as data: what `_reconstruct_persistent_obj` was given.

    `state` is the module's `__dict__` as pickled (`_parameters`, `_buffers`, `_modules`,
    `_init_args`, `_init_kwargs`, ...); `module_src` is the stored source, text only."""

    def __init__(self, class_name: str, module_src: str, state: dict):
        self.class_name, self.module_src, self.state = class_name, module_src, state

    def __repr__(self) -> str:
        return f"PersistentRecord({self.class_name}, {len(self.tensors())} tensors)"

    @property
    def init_kwargs(self) -> dict:
        return plain(self.state.get("_init_kwargs") or {})

    @property
    def init_args(self) -> tuple:
        return tuple(plain(self.state.get("_init_args") or ()))

    def children(self) -> dict[str, PersistentRecord]:
        return {k: v for k, v in self._group("_modules").items() if isinstance(v, PersistentRecord)}

    def _group(self, name: str) -> dict:
        group = self.state.get(name) or {}
        if not isinstance(group, dict):
            raise pickle.UnpicklingError(f"{self.class_name}: {name} is a {type(group).__name__}, not a dict")
        return group

    def tensors(self, prefix: str = "") -> dict[str, torch.Tensor]:
        """Parameters and persistent buffers of this network and its sub-networks, by state-dict name."""
        out = {}
        skip = set(self.state.get("_non_persistent_buffers_set") or ())
        for group in ("_parameters", "_buffers"):
            for name, value in self._group(group).items():
                if isinstance(value, torch.Tensor) and name not in skip:
                    out[prefix + name] = value.detach()
        for name, child in self._group("_modules").items():
            if isinstance(child, PersistentRecord):
                out.update(child.tensors(f"{prefix}{name}."))
            elif child is not None:
                raise pickle.UnpicklingError(f"{prefix}{name} is a {type(child).__name__}, not a network record")
        return out


class PickledModule(PersistentRecord):
    """A module pickled by class reference, as data: pickle makes an empty one (NEWOBJ) and hands it
    the module's `__dict__`. One subclass per pickled class name (`stand_in`); no class code runs."""

    module_name = ""
    class_name = ""
    module_src = ""  # no stored source: the class is named, not carried

    def __new__(cls, *args, **kwargs):
        if cls is PickledModule:
            raise pickle.UnpicklingError("PickledModule is made through stand_in(module, name)")
        record = object.__new__(cls)
        record.state = {}
        return record

    def __init__(self, *args, **kwargs):  # a REDUCE call's arguments are ignored: nothing is built from them
        pass

    def __setstate__(self, state) -> None:
        if isinstance(state, tuple) and len(state) == 2:  # (dict state, slot state)
            state = {**(state[0] or {}), **(state[1] or {})}
        if not isinstance(state, dict):
            raise pickle.UnpicklingError(f"{self.qualified_name}: state is a {type(state).__name__}, not a dict")
        self.state = dict(state)

    @property
    def qualified_name(self) -> str:
        return f"{self.module_name}.{self.class_name}"

    def __repr__(self) -> str:
        return f"PickledModule({self.qualified_name}, {len(self.tensors())} tensors)"


@functools.lru_cache(maxsize=512)
def stand_in(module: str, name: str) -> type[PickledModule]:
    """The data stand-in for class `module.name` (the same one each time, so records compare by type)."""
    if not name.isidentifier():
        raise RefusedGlobal(module, name)
    return type(name, (PickledModule,), {"module_name": module, "class_name": name, "__module__": __name__})


def plain(value: Any) -> Any:
    """EasyDicts and ordered dicts as plain dicts, recursively (tuples and lists kept)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    return value


def _record_from_meta(meta) -> PersistentRecord:
    """The intercepted persistence hook: check the record's shape, keep its source as text."""
    if not isinstance(meta, dict) or meta.get("type") != "class" or not isinstance(meta.get("class_name"), str):
        raise pickle.UnpicklingError(
            "malformed torch_utils.persistence record (expected type='class' and a class name)"
        )
    state = meta.get("state")
    if state is not None and not isinstance(state, dict):
        raise pickle.UnpicklingError(f"persistence record {meta['class_name']}: state is a {type(state).__name__}")
    return PersistentRecord(meta["class_name"], str(meta.get("module_src", "")), dict(state or {}))


def _storage_from_bytes(data: bytes):
    """torch.storage._load_from_bytes, but with torch's weights-only unpickler."""
    if not isinstance(data, (bytes, bytearray)):
        raise pickle.UnpicklingError("tensor storage record is not bytes")
    return torch.load(io.BytesIO(data), weights_only=True)


def _allowed() -> dict[tuple[str, str], Any]:
    import numpy as np

    allowed = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("builtins", "set"): set,
        ("builtins", "frozenset"): frozenset,
        ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
        ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
        ("torch.storage", "_load_from_bytes"): _storage_from_bytes,
        ("dnnlib.util", "EasyDict"): EasyDictData,
        ("dnnlib", "EasyDict"): EasyDictData,
        ("numpy", "dtype"): np.dtype,
        ("numpy", "ndarray"): np.ndarray,
        PERSISTENCE_HOOK: _record_from_meta,
    }
    try:
        from numpy._core import multiarray  # numpy 2
    except ImportError:
        from numpy.core import multiarray  # numpy 1
    for core in ("numpy.core.multiarray", "numpy._core.multiarray"):  # pickles name either
        allowed[(core, "_reconstruct")] = multiarray._reconstruct
        allowed[(core, "scalar")] = multiarray.scalar
    for dtype in ("bfloat16", "float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"):
        allowed[("torch", dtype)] = getattr(torch, dtype)
    return allowed


class RestrictedUnpickler(pickle.Unpickler):
    """A pickle.Unpickler whose globals come from an allow-list; classes of the `modules_as_data`
    modules (and their sub-modules) become PickledModule stand-ins; everything else is RefusedGlobal."""

    def __init__(
        self,
        file: BinaryIO,
        extra: dict[tuple[str, str], Any] | None = None,
        modules_as_data: tuple[str, ...] = (),
    ):
        super().__init__(file)
        self.allowed = {**_allowed(), **(extra or {})}
        self.modules_as_data = tuple(modules_as_data)
        self.class_names: set[tuple[str, str]] = set()

    def find_class(self, module: str, name: str):
        try:
            return self.allowed[(module, name)]
        except KeyError:
            pass
        if any(module == m or module.startswith(m + ".") for m in self.modules_as_data):
            self.class_names.add((module, name))
            if len(self.class_names) > MAX_CLASSES:  # a network has a few dozen: more is a crafted file
                raise pickle.UnpicklingError(f"more than {MAX_CLASSES} module classes named in one file")
            return stand_in(module, name)
        raise RefusedGlobal(module, name)

    def persistent_load(self, pid):
        raise pickle.UnpicklingError(
            "persistent ids (torch.save's format) are not read here: use torch.load(weights_only=True)"
        )


def load_restricted(
    path: str | os.PathLike,
    extra: dict[tuple[str, str], Any] | None = None,
    modules_as_data: tuple[str, ...] = (),
) -> Any:
    """Unpickle `path` with the allow-list; EasyDicts come back as plain dicts."""
    import warnings

    with open(path, "rb") as f, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's notes about the legacy storage format
        return RestrictedUnpickler(f, extra, modules_as_data).load()
