"""From a PyTorch generator to an ONNX graph: the float core, then the in-graph post-processing.

The core is exported once with the current exporter (`torch.onnx.export(..., dynamo=True)`):
inputs z [batch, latent] (no random numbers inside the graph), labels int64 [batch] or
embeddings float32 [batch, text_dim] for conditional models (token-level text models also
text_tokens float32 [batch, T, D] and text_mask bool [batch, T]), truncation float32 [batch] when the
generator has a truncation trick; output float32 [batch, C, H, W] in [-1, 1]. Precision changes
(fp16, int8) apply to this core. Post-processing is then appended as plain ONNX nodes, always in
float32, exactly as `zoo.images.to_uint8` computes it, so the runtime receives finished pixels.
"""

from __future__ import annotations

import copy
import io
import warnings

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from zoo_runtime.package import (
    INPUT_EMBEDDINGS,
    INPUT_LABELS,
    INPUT_TEXT_MASK,
    INPUT_TEXT_TOKENS,
    INPUT_TRUNCATION,
    INPUT_Z,
    OUTPUT_IMAGES,
)

FLOAT_OUTPUT = "float_images"  # the core's output: float32 [batch, C, H, W] in [-1, 1]
EXAMPLE_BATCH = 2  # with batch 1 the exporter may bake the batch into the graph (pytorch#133653)


def prepare_generator(generator: nn.Module) -> nn.Module:
    """A float32 CPU copy in eval mode with spectral/weight norm baked into plain weights: a
    parametrization would otherwise be exported as its computation (power iteration included)."""
    from torch.nn.utils import parametrize

    g = copy.deepcopy(generator).float().cpu().eval()
    for module in g.modules():
        if parametrize.is_parametrized(module):
            for name in list(module.parametrizations.keys()):
                parametrize.remove_parametrizations(module, name, leave_parametrized=True)
        for _key, hook in list(module._forward_pre_hooks.items()):  # the old hook-based spectral_norm/weight_norm
            kind = type(hook).__name__
            if kind == "SpectralNorm":
                torch.nn.utils.remove_spectral_norm(module, hook.name)
            elif kind == "WeightNorm":
                torch.nn.utils.remove_weight_norm(module, hook.name)
    for p in g.parameters():
        p.requires_grad_(False)
    return g


class CoreGenerator(nn.Module):
    """The generator with the graph's input signature: (z, [labels | embeddings [text_tokens, text_mask]],
    [truncation]); a token-level text model gets its packed condition row (zoo_runtime.text.tokens) built
    inside the graph."""

    def __init__(self, generator: nn.Module, kind: str, has_truncation: bool, tokens: bool = False):
        super().__init__()
        self.g = generator
        self.kind = kind
        self.has_truncation = has_truncation
        self.tokens = tokens

    def forward(self, z: torch.Tensor, *extra: torch.Tensor) -> torch.Tensor:
        c = extra[0] if self.kind != "none" else None
        if self.tokens:
            c = torch.cat([c, extra[1].flatten(1), extra[2].to(c.dtype)], 1)
        if self.has_truncation:
            return self.g(z, c, truncation=extra[-1])
        return self.g(z, c)


def token_shape(generator: nn.Module) -> tuple[int, int]:
    """(text_tokens, text_token_dim) of a token-level text generator, (0, 0) otherwise."""
    config = getattr(generator, "config", None) or {}
    if config.get("conditioning") != "text" or not int(config.get("text_tokens") or 0):
        return (0, 0)
    return int(config["text_tokens"]), int(config["text_token_dim"])


def graph_token_shape(model: onnx.ModelProto) -> tuple[int, int]:
    """(text_tokens, text_token_dim) read from an exported graph's text_tokens input, (0, 0) without one."""
    for value in model.graph.input:
        if value.name == INPUT_TEXT_TOKENS:
            dims = value.type.tensor_type.shape.dim
            return int(dims[1].dim_value), int(dims[2].dim_value)
    return (0, 0)


def input_names(kind: str, has_truncation: bool, tokens: tuple[int, int] = (0, 0)) -> list[str]:
    names = [INPUT_Z]
    if kind == "class":
        names.append(INPUT_LABELS)
    elif kind == "text":
        names.append(INPUT_EMBEDDINGS)
        if tokens[0]:
            names += [INPUT_TEXT_TOKENS, INPUT_TEXT_MASK]
    if has_truncation:
        names.append(INPUT_TRUNCATION)
    return names


def example_inputs(
    names: list[str],
    latent_dim: int,
    num_classes: int,
    text_dim: int,
    n: int,
    seed: int = 0,
    tokens: tuple[int, int] = (0, 0),
) -> dict[str, np.ndarray]:
    """Random inputs for the graph, numpy, keyed by input name (also used by the parity check)."""
    rng = np.random.default_rng(seed)
    feeds = {INPUT_Z: rng.standard_normal((n, latent_dim), dtype=np.float32)}
    if INPUT_LABELS in names:
        feeds[INPUT_LABELS] = rng.integers(0, num_classes, n, dtype=np.int64)
    if INPUT_EMBEDDINGS in names:
        emb = rng.standard_normal((n, text_dim), dtype=np.float32)
        feeds[INPUT_EMBEDDINGS] = emb / np.linalg.norm(emb, axis=1, keepdims=True)  # text encoders emit unit vectors
    if INPUT_TEXT_TOKENS in names:
        feeds[INPUT_TEXT_TOKENS] = rng.standard_normal((n, *tokens), dtype=np.float32)
        feeds[INPUT_TEXT_MASK] = np.arange(tokens[0])[None, :] < rng.integers(0, tokens[0] + 1, (n, 1))
    if INPUT_TRUNCATION in names:
        feeds[INPUT_TRUNCATION] = rng.uniform(0.5, 1.0, n).astype(np.float32)
    return feeds


def export_core(core: CoreGenerator, names: list[str], example: dict[str, np.ndarray], opset: int) -> onnx.ModelProto:
    """torch.onnx.export(dynamo=True) with one dynamic batch dimension shared by every input."""
    args = tuple(torch.from_numpy(example[n]) for n in names)
    batch = torch.export.Dim("batch", min=1, max=1 << 16)
    # structure follows forward(z, *extra): (z's dims, (each extra input's dims)) or just (z's dims,)
    dynamic_shapes = ({0: batch}, tuple({0: batch} for _ in names[1:])) if len(names) > 1 else ({0: batch},)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporter's chatter; the parity check is the gate
        program = torch.onnx.export(
            core,
            args,
            dynamo=True,
            input_names=names,
            output_names=[FLOAT_OUTPUT],
            dynamic_shapes=dynamic_shapes,
            opset_version=opset,
            optimize=True,
            verbose=False,
            external_data=False,
        )
    buf = io.BytesIO()
    program.save(buf)  # serialise: one self-contained ModelProto (weights inline)
    model = onnx.load_from_string(buf.getvalue())
    for value in list(model.graph.input) + list(model.graph.output):  # one name for the batch dimension
        dims = value.type.tensor_type.shape.dim
        if len(dims) and not dims[0].HasField("dim_value"):
            dims[0].dim_param = "batch"
    return model


def export_float_graph(
    generator: nn.Module,
    kind: str,
    has_truncation: bool,
    latent_dim: int,
    num_classes: int,
    text_dim: int,
    opset: int = 18,
) -> onnx.ModelProto:
    """The float core of a (prepared) generator as an ONNX model."""
    tokens = token_shape(generator)
    names = input_names(kind, has_truncation, tokens)
    core = CoreGenerator(generator, kind, has_truncation, bool(tokens[0])).eval()
    example = example_inputs(names, latent_dim, num_classes, text_dim, EXAMPLE_BATCH, seed=1234, tokens=tokens)
    return export_core(core, names, example, opset)


def append_postprocess(model: onnx.ModelProto) -> onnx.ModelProto:
    """Float output [batch, C, H, W] in [-1, 1] -> uint8 [batch, H, W, C], as zoo.images.to_uint8:
    floor(clip((x + 1) * 127.5 + 0.5, 0, 255)) (round half up). Cast before the transpose: the
    transpose then moves a quarter of the bytes."""
    model = copy.deepcopy(model)
    g = model.graph
    out = next(o for o in g.output if o.name == FLOAT_OUTPUT)
    dims = out.type.tensor_type.shape.dim
    c, h, w = (d.dim_value for d in dims[1:])
    consts = {"pp_one": 1.0, "pp_scale": 127.5, "pp_half": 0.5, "pp_zero": 0.0, "pp_max": 255.0}
    g.initializer.extend(numpy_helper.from_array(np.array(v, np.float32), k) for k, v in consts.items())
    g.node.extend(
        [
            helper.make_node("Add", [FLOAT_OUTPUT, "pp_one"], ["pp_shifted"], name="pp_add_one"),
            helper.make_node("Mul", ["pp_shifted", "pp_scale"], ["pp_scaled"], name="pp_scale"),
            helper.make_node("Add", ["pp_scaled", "pp_half"], ["pp_rounding"], name="pp_add_half"),
            helper.make_node("Clip", ["pp_rounding", "pp_zero", "pp_max"], ["pp_clipped"], name="pp_clip"),
            helper.make_node("Floor", ["pp_clipped"], ["pp_floored"], name="pp_floor"),
            helper.make_node("Cast", ["pp_floored"], ["pp_uint8"], to=TensorProto.UINT8, name="pp_cast"),
            helper.make_node("Transpose", ["pp_uint8"], [OUTPUT_IMAGES], perm=[0, 2, 3, 1], name="pp_nhwc"),
        ]
    )
    del g.output[:]
    g.output.append(helper.make_tensor_value_info(OUTPUT_IMAGES, TensorProto.UINT8, ["batch", h, w, c]))
    return model


def io_specs(model: onnx.ModelProto) -> tuple[list[dict], list[dict]]:
    """Inputs and outputs as manifest entries: name, dtype, shape ("batch" for the dynamic dim)."""

    def spec(value) -> dict:
        t = value.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "batch") for d in t.shape.dim]
        dtype = np.dtype(helper.tensor_dtype_to_np_dtype(t.elem_type)).name
        return {"name": value.name, "dtype": dtype, "shape": shape}

    return [spec(v) for v in model.graph.input], [spec(v) for v in model.graph.output]
