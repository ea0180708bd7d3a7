"""Deprecated alias of zoo.exporting (removed in gan-zoo 0.3); `zoo.export` is the function.

`import zoo.export` binds this package to the name `zoo.export` until a submodule alias binds the
function again: call zoo.export(...) after importing from zoo.exporting instead.
"""

from zoo.deprecation import warn_renamed
from zoo.exporting import FORMATS, PRECISIONS, TOLERANCES, ExportError, export

warn_renamed("zoo.export", "zoo.exporting")

__all__ = ["export", "ExportError", "PRECISIONS", "FORMATS", "TOLERANCES"]
