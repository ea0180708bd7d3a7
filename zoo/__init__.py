"""gan-zoo: a model zoo for GANs.

    import zoo
    zoo.list_models("dcgan*", pretrained=True)
    model = zoo.create_model("dcgan32.digits", pretrained=True)
    images = model.sample(16, seed=0, labels=7)      # float [16, C, H, W] in [-1, 1]

Importing `zoo` is cheap: torch is imported by the functions that need it.
"""
from __future__ import annotations

__version__ = "0.1.0"

from zoo.registry import (ConfigError, ModelSpec, UnknownModelError, WeightSource, list_models,
                          register_model)

_LAZY = {
    "create_model": "zoo.factory",
    "load": "zoo.factory",
    "save": "zoo.weights",
    "read_metadata": "zoo.weights",
    "WeightsError": "zoo.weights",
    "IntegrityError": "zoo.weights",
    "GAN": "zoo.model",
    "train": "zoo.train.api",
    "finetune": "zoo.train.api",
    "resume": "zoo.train.api",
    "export": "zoo.export",
    "get_text_encoder": "zoo.text",
    "list_text_encoders": "zoo.text",
    "load_dataset": "zoo.data",
    "import_checkpoint": "zoo.importing",
    "project": "zoo.latents.project",
}


# Sub-packages a user reaches as attributes (`zoo.metrics.evaluate(...)`) after a plain `import zoo`.
_SUBMODULES = {"archs", "conditioning", "data", "export", "images", "importing", "latents", "metrics", "model",
               "testing", "text", "train", "weights"}


def __getattr__(name: str):
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"zoo.{name}")
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")


__all__ = ["__version__", "list_models", "register_model", "ModelSpec", "WeightSource", "ConfigError",
           "UnknownModelError", *_LAZY]
