"""zoo_runtime: load a gan-zoo model package and generate images with ONNX Runtime, without torch."""
from __future__ import annotations

__version__ = "0.1.0"

from zoo_runtime.latents import make_labels, make_latents

__all__ = ["make_latents", "make_labels", "__version__"]
