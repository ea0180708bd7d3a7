"""Deprecated alias of zoo.training (removed in gan-zoo 0.3); `zoo.train` is the function.

`import zoo.train` binds this package to the name `zoo.train` until a submodule alias binds the
function again: call zoo.train(...) after importing from zoo.training instead.
"""

from zoo.deprecation import warn_renamed

warn_renamed("zoo.train", "zoo.training")
