"""ONNX export: a generator -> a verified model package (manifest.json + generator.onnx) that
`zoo_runtime` runs without PyTorch, or a Triton Inference Server model repository.

    zoo.export("dcgan32.digits", "pkg/")                       # fp32, opset 18
    zoo.export("dcgan32.digits", "pkg-int8/", precision="int8")
    zoo.export(model, "repo/", format="triton")

`zoo.export` is this package's `export` function. zoo/exporting/verify.py says exactly what the
parity check compares and its tolerances; docs/architecture.md, what a package holds.
"""

from zoo.exporting.exporter import FORMATS, PRECISIONS, export
from zoo.exporting.verify import TOLERANCES, ExportError

__all__ = ["export", "ExportError", "PRECISIONS", "FORMATS", "TOLERANCES"]
