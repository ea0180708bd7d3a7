"""zoo_runtime: load a gan-zoo model package and generate images with ONNX Runtime, without torch.

    import zoo_runtime
    gen = zoo_runtime.load("pkg/")                 # providers="auto": TensorRT, CUDA, then CPU
    images = gen.generate(16, seed=0, labels=7)    # uint8 [16, H, W, C], same as `zoo sample --seed 0`

Importing this package is cheap (numpy only); onnxruntime is imported by `load`.
"""

from __future__ import annotations

__version__ = "0.1.0"

from zoo_runtime.latents import make_labels, make_latents

_LAZY = {
    "load": "zoo_runtime.generator",
    "Generator": "zoo_runtime.generator",
    "PackageError": "zoo_runtime.package",
    "read_manifest": "zoo_runtime.package",
    "save_png": "zoo_runtime.images",
    "make_grid": "zoo_runtime.images",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'zoo_runtime' has no attribute {name!r}")


__all__ = ["__version__", "make_latents", "make_labels", *_LAZY]
