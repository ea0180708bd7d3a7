"""Old import paths, kept for one release (removed in gan-zoo 0.3) with a DeprecationWarning:
zoo.train.* is now zoo.training.*, zoo.export.* is now zoo.exporting.* (the packages were renamed so
that `zoo.train`, `zoo.finetune` and `zoo.export` are plain functions; see docs/architecture.md).
"""

from __future__ import annotations

import importlib
import sys
import warnings
from types import ModuleType

FUNCTIONS = {"train": "zoo.training.api", "export": "zoo.exporting"}  # zoo.<name> -> where the function is


def warn_renamed(old: str, new: str) -> None:
    warnings.warn(
        f"{old} is deprecated and will be removed in gan-zoo 0.3: import {new} instead ("
        f"zoo.{old.split('.')[1]} is the function)",
        DeprecationWarning,
        stacklevel=4,
    )


def alias_module(old: str, new: str) -> ModuleType:
    """Make the old module name `old` the module `new` itself (patching either patches both)."""
    warn_renamed(old, new)
    module = importlib.import_module(new)
    sys.modules[old] = module
    keep_function(old)
    return module


def keep_function(old: str) -> None:
    """Importing `zoo.train.x` binds the old package to the name `zoo.train`; bind the function again,
    so `zoo.train(...)` keeps working in code that still uses an old import path."""
    name = old.split(".")[1]
    setattr(sys.modules["zoo"], name, getattr(importlib.import_module(FUNCTIONS[name]), name))
