"""SNGAN plugin for gan-zoo (work in progress)."""
