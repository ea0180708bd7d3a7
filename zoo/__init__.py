"""gan-zoo: a model zoo for GANs.

    import zoo
    zoo.list_models("dcgan*", pretrained=True)
    model = zoo.create_model("dcgan32.digits", pretrained=True)
    images = model.sample(16, seed=0, labels=7)      # float [16, C, H, W] in [-1, 1]
    model = zoo.resolve_source("runs/digits")         # any model argument: name, file, file:// URL, run dir

zoo.train, zoo.finetune, zoo.resume and zoo.export are functions (packages zoo.training, zoo.exporting).
Importing `zoo` is cheap: torch is imported by the functions that need it. See docs/architecture.md.
"""

from __future__ import annotations

from zoo.registry import ConfigError, ModelSpec, UnknownModelError, WeightSource, list_models, register_model
from zoo.version import __version__

_LAZY = {
    "create_model": "zoo.factory",
    "load": "zoo.factory",
    "resolve_source": "zoo.factory",
    "save": "zoo.weights",
    "read_metadata": "zoo.weights",
    "WeightsError": "zoo.weights",
    "IntegrityError": "zoo.weights",
    "GAN": "zoo.model",
    "train": "zoo.training.api",
    "finetune": "zoo.training.api",
    "resume": "zoo.training.api",
    "export": "zoo.exporting",
    "ExportError": "zoo.exporting",
    "get_text_encoder": "zoo.text",
    "list_text_encoders": "zoo.text",
    "load_dataset": "zoo.data",
    "import_checkpoint": "zoo.importing",
    "project": "zoo.latents.project",
}


# Sub-packages a user reaches as attributes (`zoo.metrics.evaluate(...)`) after a plain `import zoo`.
# (`zoo.train`, `zoo.finetune`, `zoo.resume` and `zoo.export` are functions; their packages are
# zoo.training and zoo.exporting.)
_SUBMODULES = {
    "archs",
    "conditioning",
    "data",
    "exporting",
    "factory",
    "images",
    "importing",
    "latents",
    "metrics",
    "model",
    "plugins",
    "registry",
    "sources",
    "testing",
    "text",
    "training",
    "weights",
}


def __getattr__(name: str):
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"zoo.{name}")
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")


__all__ = [
    "__version__",
    "list_models",
    "register_model",
    "ModelSpec",
    "WeightSource",
    "ConfigError",
    "UnknownModelError",
    *_LAZY,
]
