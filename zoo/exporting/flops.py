"""Counting a graph's multiply-accumulates (Conv, ConvTranspose, Gemm, MatMul) per image.

The roofline of a generator on a machine is flops / (the machine's matmul rate): these four ops are
where the time goes; element-wise ops are counted out (they are memory-bound and small here).

Shapes come from ONNX shape inference with data propagation: StyleGAN2's batch-agnostic modulated
convolution takes inputs whose shapes pass through Shape/Gather/Concat -> Expand (the learned
constant expanded to the batch) and weights computed at run time (weight * gain), which plain
inference leaves unknown, so its convolutions used to go uncounted.
"""

from __future__ import annotations

import copy
import math

import onnx
from onnx import helper, numpy_helper


def value_shapes(model: onnx.ModelProto) -> dict[str, list[int]]:
    """Static shapes of every value at batch 1 (the dynamic batch dimension set to 1)."""
    m = copy.deepcopy(model)
    for value in list(m.graph.input) + list(m.graph.output):
        for d in value.type.tensor_type.shape.dim:
            if not d.HasField("dim_value"):
                d.dim_value = 1
    try:  # data_prop: follow shape arithmetic (Shape -> Gather -> Concat -> Expand/Reshape) to static sizes
        m = onnx.shape_inference.infer_shapes(m, data_prop=True)
    except Exception:  # noqa: BLE001 -- a graph data propagation cannot handle: plain inference
        m = onnx.shape_inference.infer_shapes(copy.deepcopy(m))
    shapes = {}
    for value in list(m.graph.value_info) + list(m.graph.input) + list(m.graph.output):
        dims = value.type.tensor_type.shape.dim
        if all(d.HasField("dim_value") for d in dims):
            shapes[value.name] = [d.dim_value for d in dims]
    for init in m.graph.initializer:
        shapes[init.name] = list(init.dims)
    return shapes


def count_macs(model: onnx.ModelProto) -> dict:
    """{"macs": per image, "by_op": {...}, "uncounted": [ops whose shapes were unknown]}."""
    shapes = value_shapes(model)
    by_op: dict[str, int] = {}
    uncounted = []
    for node in model.graph.node:
        op = node.op_type
        if op not in ("Conv", "ConvTranspose", "Gemm", "MatMul"):
            continue
        try:
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            if op == "Conv":
                w = shapes[node.input[1]]  # [Cout, Cin/group, kh, kw]
                macs = math.prod(shapes[node.output[0]]) * math.prod(w[1:])
            elif op == "ConvTranspose":
                w = shapes[node.input[1]]  # [Cin, Cout/group, kh, kw]
                macs = math.prod(shapes[node.input[0]]) * math.prod(w[1:])
            elif op == "Gemm":
                a = shapes[node.input[0]]
                k = a[0] if attrs.get("transA", 0) else a[1]
                macs = math.prod(shapes[node.output[0]]) * k
            else:  # MatMul
                a = shapes[node.input[0]]
                macs = math.prod(shapes[node.output[0]]) * a[-1]
        except KeyError:
            uncounted.append(node.name or op)
            continue
        by_op[op] = by_op.get(op, 0) + int(macs)
    return {"macs": sum(by_op.values()), "by_op": by_op, "uncounted": uncounted}


def count_params(model: onnx.ModelProto) -> int:
    return int(sum(numpy_helper.to_array(i).size for i in model.graph.initializer))
