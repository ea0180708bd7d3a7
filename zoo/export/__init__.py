"""ONNX export: a generator -> a verified model package (manifest.json + generator.onnx) that
`zoo_runtime` runs without PyTorch, or a Triton Inference Server model repository.

    zoo.export("dcgan32.digits", "pkg/")                       # fp32, opset 18
    zoo.export("dcgan32.digits", "pkg-int8/", precision="int8")
    zoo.export(model, "repo/", format="triton")

See zoo/export/verify.py for exactly what the parity check compares and the tolerances.
"""
from zoo.export.exporter import FORMATS, PRECISIONS, export
from zoo.export.verify import TOLERANCES, ExportError

__all__ = ["export", "ExportError", "PRECISIONS", "FORMATS", "TOLERANCES"]


# `zoo.export(...)` is this function, but once this subpackage is imported Python binds the name
# `zoo.export` to the module itself; making the module callable keeps both spellings working.
class _CallableModule(__import__("types").ModuleType):
    def __call__(self, *args, **kwargs):
        return export(*args, **kwargs)


__import__("sys").modules[__name__].__class__ = _CallableModule
