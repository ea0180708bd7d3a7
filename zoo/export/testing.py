"""Deprecated alias of zoo.exporting.testing (removed in gan-zoo 0.3)."""

from zoo.deprecation import alias_module

alias_module(__name__, "zoo.exporting.testing")
