"""MiniLM text encoder plugin for gan-zoo (work in progress)."""
