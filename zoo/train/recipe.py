"""Deprecated alias of zoo.training.recipe (removed in gan-zoo 0.3)."""

from zoo.deprecation import alias_module

alias_module(__name__, "zoo.training.recipe")
