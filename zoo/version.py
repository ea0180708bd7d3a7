"""The gan-zoo version (its own module so that any module can read it without importing `zoo`)."""

__version__ = "0.1.0"
