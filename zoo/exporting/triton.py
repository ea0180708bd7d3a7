"""A Triton Inference Server model repository for an exported generator.

    REPO/
      MODEL/                  (the model name with characters Triton dislikes replaced by "_")
        config.pbtxt          onnxruntime backend, dynamic batching, max_batch_size, dims and dtypes
        manifest.json         the model package manifest (graph: 1/model.onnx), so zoo_runtime loads
        1/model.onnx          the same graph as a model package's generator.onnx
        [text encoder files]  for clients: Triton serves the embeddings input, prompts are encoded
                              client-side (zoo_runtime.text)

Serve it with `tritonserver --model-repository REPO` (see the README). With max_batch_size > 0
Triton adds the batch dimension itself, so dims list the per-sample shape; the per-sample labels
and truncation are scalars, which Triton spells dims [1] with `reshape: { shape: [ ] }`.
"""

from __future__ import annotations

import re

TRITON_DTYPES = {
    "float32": "TYPE_FP32",
    "float16": "TYPE_FP16",
    "int64": "TYPE_INT64",
    "int32": "TYPE_INT32",
    "uint8": "TYPE_UINT8",
    "bool": "TYPE_BOOL",
}
DEFAULT_MAX_BATCH = 256


def triton_model_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)


def _tensor(spec: dict) -> str:
    per_sample = [int(d) for d in spec["shape"][1:]]
    lines = [f'    name: "{spec["name"]}"', f"    data_type: {TRITON_DTYPES[spec['dtype']]}"]
    if per_sample:
        lines.append(f"    dims: [ {', '.join(map(str, per_sample))} ]")
    else:  # a scalar per sample: [batch] in the graph
        lines.append("    dims: [ 1 ]")
        lines.append("    reshape: { shape: [ ] }")
    return "  {\n" + "\n".join(lines) + "\n  }"


def config_pbtxt(
    model_name: str,
    inputs: list[dict],
    outputs: list[dict],
    max_batch_size: int = DEFAULT_MAX_BATCH,
    max_queue_delay_us: int = 2000,
) -> str:
    """config.pbtxt text for the onnxruntime backend with dynamic batching."""
    for spec in inputs + outputs:
        if spec["shape"][0] != "batch":
            raise ValueError(f"{spec['name']} has no leading batch dimension; Triton batching needs one")
    preferred = [b for b in (8, 16, 32, 64) if b <= max_batch_size]
    return (
        f'name: "{model_name}"\n'
        'backend: "onnxruntime"\n'
        f"max_batch_size: {max_batch_size}\n"
        "input [\n" + ",\n".join(_tensor(s) for s in inputs) + "\n]\n"
        "output [\n" + ",\n".join(_tensor(s) for s in outputs) + "\n]\n"
        "dynamic_batching {\n"
        + (f"  preferred_batch_size: [ {', '.join(map(str, preferred))} ]\n" if preferred else "")
        + f"  max_queue_delay_microseconds: {max_queue_delay_us}\n"
        "}\n"
        "instance_group [\n  {\n    count: 1\n    kind: KIND_AUTO\n  }\n]\n"
    )
