"""Exact graph rewrites that make a generator faster on ONNX Runtime.

`conv_transpose_to_phases`: a strided ConvTranspose is s*s ordinary convolutions, one per output
phase (the sub-pixel view of a transposed convolution), interleaved by DepthToSpace:

    ConvTranspose(x, W, stride s, kernel k, pads p)  ==  DepthToSpace_s(Concat_phases(Conv(x, K_phase)))

Each phase (a, b) reads a (k/s) x (k/s) window of the input, so the multiply-accumulates are exactly
those of the ConvTranspose: nothing is wasted on zero taps. Why: ONNX Runtime's CPU ConvTranspose
runs one narrow GEMM plus a col2im scatter per image, while Conv runs on its blocked NCHWc kernels
over the whole batch, and Conv has an int8 kernel (QLinearConv) where ConvTranspose has none, so
after this rewrite a DCGAN-style generator quantizes end to end.

Used for fp32 packages too (zoo.exporting.exporter): measured by benchmarks/runtime.py on the 2-core CPU,
dcgan64 at batch 64 ran 2.1x faster with the phase convolutions (ConvTranspose was 89% of the
kernel time in benchmarks/profile_runtime.py), at batch 1 level.

The rewrite is exact in real arithmetic (float results differ by summation order only) and the
export's parity check runs on the rewritten graph like on any other.
"""

from __future__ import annotations

import copy

import numpy as np
import onnx
from onnx import helper, numpy_helper

from zoo.exporting.flops import value_shapes


def set_nodes(graph: onnx.GraphProto, nodes: list) -> None:
    """Replace the graph's node list (protobuf repeated fields have no assignment)."""
    del graph.node[:]
    graph.node.extend(nodes)


def consumers_of(graph: onnx.GraphProto) -> dict[str, list]:
    """{value name: the nodes that read it}, in graph order."""
    consumers: dict[str, list] = {}
    for n in graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    return consumers


def per_sample_channel_scale(mul, shapes: dict, inits: dict) -> tuple[str, str] | None:
    """(x, s) when `mul` is Mul(x, s), in either order, of a computed x [N, C, H, W] (C, H, W static) and an
    s of shape [N, C, 1, 1]: a scale per sample and channel, as StyleGAN2's styles and demodulation. Else None."""
    for x, s in (mul.input, list(reversed(mul.input))):
        sx, ss = shapes.get(x), shapes.get(s)
        if x in inits or sx is None or ss is None or len(sx) != 4 or len(ss) != 4:
            continue
        if all(isinstance(d, int) for d in sx[1:]) and ss[1:] == [sx[1], 1, 1]:
            return x, s
    return None


def drop_unused_initializers(graph: onnx.GraphProto) -> None:
    """Remove the weights no node reads any more (a rewrite replaced their nodes)."""
    used = {i for n in graph.node for i in n.input}
    keep = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)


def _phase_taps(a: int, s: int, k: int, p_begin: int, size_in: int, size_out: int) -> tuple[list[int], int, int]:
    """For output phase a along one axis: kernel indices for conv taps u = 0..T-1, pad_begin, pad_end.

    Output index o = s*i + a collects x[iy] * W[ky] with ky = o + p - s*iy. With r = (a+p) mod s and
    q = (a+p) // s, the taps are ky = r + s*t (t < T = k/s) reading iy = i + q - t; as a correlation
    out[i] = sum_u x[i + off + u] * Kconv[u] with off = q - (T-1) and Kconv[u] = W[r + s*(T-1-u)].
    """
    t_count = k // s
    r, q = (a + p_begin) % s, (a + p_begin) // s
    offset = q - (t_count - 1)
    taps = [r + s * (t_count - 1 - u) for u in range(t_count)]
    phase_len = size_out // s
    pad_begin = -offset
    pad_end = (phase_len - 1 + offset + t_count - 1) - (size_in - 1)
    return taps, pad_begin, pad_end


def _convertible(node, attrs: dict, w_shape, x_shape) -> bool:
    if len(w_shape) != 4 or x_shape is None or len(x_shape) != 4 or any(d is None for d in x_shape[2:]):
        return False
    k = w_shape[2:]
    s = attrs.get("strides", [1, 1])
    p = attrs.get("pads", [0, 0, 0, 0])
    if attrs.get("group", 1) != 1 or any(d != 1 for d in attrs.get("dilations", [1, 1])) or s[0] != s[1]:
        return False  # DepthToSpace interleaves with one block size
    if any(v != 0 for v in attrs.get("output_padding", [0, 0])) or attrs.get("output_shape"):
        return False
    if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        return False
    for axis in range(2):
        size_out = (x_shape[2 + axis] - 1) * s[axis] - p[axis] - p[axis + 2] + k[axis]
        if k[axis] % s[axis] or size_out % s[axis]:
            return False
        for a in range(s[axis]):
            _, pb, pe = _phase_taps(a, s[axis], k[axis], p[axis], x_shape[2 + axis], size_out)
            if pb < 0 or pe < 0:  # a phase would need a cropped input: leave such nodes alone
                return False
    return True


def conv_transpose_to_phases(model: onnx.ModelProto, fold_relu: bool = True) -> tuple[onnx.ModelProto, int]:
    """Every convertible 2-D ConvTranspose (constant weights, group 1, no dilation or output
    padding) replaced by per-phase Convs + Concat + DepthToSpace. Returns (model, nodes rewritten).

    With `fold_relu`, a Relu that is the ConvTranspose's only consumer moves onto each phase Conv
    (Relu commutes with the interleaving), where ONNX Runtime fuses it into the convolution; for
    int8 that is what lets Conv+Relu become one quantized kernel."""
    model = copy.deepcopy(model)
    graph = model.graph
    shapes = value_shapes(model)
    inits = {i.name: i for i in graph.initializer}
    consumers = consumers_of(graph)
    graph_outputs = {o.name for o in graph.output}
    nodes, rewritten, folded = [], 0, set()
    for node in graph.node:
        if id(node) in folded:
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if (
            node.op_type != "ConvTranspose"
            or node.input[1] not in inits
            or not _convertible(node, attrs, shapes.get(node.input[1]), shapes.get(node.input[0]))
        ):
            nodes.append(node)
            continue
        w = numpy_helper.to_array(inits[node.input[1]])  # [Cin, Cout, kh, kw]
        bias = numpy_helper.to_array(inits[node.input[2]]) if len(node.input) > 2 and node.input[2] else None
        x_shape = shapes[node.input[0]]
        s = attrs.get("strides", [1, 1])
        p = attrs.get("pads", [0, 0, 0, 0])
        k = w.shape[2:]
        out_size = [(x_shape[2 + i] - 1) * s[i] - p[i] - p[i + 2] + k[i] for i in range(2)]
        prefix = (node.name or node.output[0]).replace("/", "_") + "_phase"
        users = consumers.get(node.output[0], [])
        relu = (
            users[0]
            if (fold_relu and len(users) == 1 and users[0].op_type == "Relu" and node.output[0] not in graph_outputs)
            else None
        )
        final = relu.output[0] if relu is not None else node.output[0]
        if relu is not None:
            folded.add(id(relu))
        phase_outputs = []
        for a in range(s[0]):  # DepthToSpace DCR order: channel = (a * s + b) * Cout + c
            rows, pt, pbot = _phase_taps(a, s[0], k[0], p[0], x_shape[2], out_size[0])
            for b in range(s[1]):
                cols, pl, pr = _phase_taps(b, s[1], k[1], p[1], x_shape[3], out_size[1])
                kernel = w[:, :, rows][:, :, :, cols].transpose(1, 0, 2, 3).copy()  # [Cout, Cin, T, T]
                name = f"{prefix}{a}{b}"
                graph.initializer.append(numpy_helper.from_array(kernel.astype(w.dtype), name + "_w"))
                inputs = [node.input[0], name + "_w"]
                if bias is not None:
                    graph.initializer.append(numpy_helper.from_array(bias, name + "_b"))
                    inputs.append(name + "_b")
                out = final if s == [1, 1] else name + "_y"
                conv_out = name + "_pre" if relu is not None else out
                nodes.append(
                    helper.make_node(
                        "Conv",
                        inputs,
                        [conv_out],
                        name=name,
                        kernel_shape=list(kernel.shape[2:]),
                        pads=[pt, pl, pbot, pr],
                    )
                )
                if relu is not None:
                    nodes.append(helper.make_node("Relu", [conv_out], [out], name=name + "_relu"))
                phase_outputs.append(out)
        if s != [1, 1]:
            nodes.append(helper.make_node("Concat", phase_outputs, [prefix + "_cat"], name=prefix + "_cat", axis=1))
            nodes.append(
                helper.make_node(
                    "DepthToSpace", [prefix + "_cat"], [final], name=prefix + "_d2s", blocksize=s[0], mode="DCR"
                )
            )
        rewritten += 1
    set_nodes(graph, nodes)
    drop_unused_initializers(graph)
    return model, rewritten


def upsample_after_identity_pool(model: onnx.ModelProto, block: int = 16) -> tuple[onnx.ModelProto, int]:
    """An identity MaxPool (1x1 window) inserted before each Resize whose input does not come from a Conv or
    pool. Returns (model, pools inserted).

    Why: ONNX Runtime's CPU provider runs convolutions and pools in a blocked channel layout (NCHWc) and
    converts a Resize into its fast blocked Upsample only when the Resize's input is already blocked, i.e.
    comes from such a node. In StyleGAN2 the upsample follows the per-sample modulation (a Mul), so it ran
    as a slow NCHW Resize, and the tensor was reordered into the blocked layout after being upsampled (4x
    the bytes). The identity pool makes the Resize's input blocked: the upsample runs blocked and the
    reorder moves to the small tensor. The pool is exact (a max over one value); the blocked Upsample rounds
    differently from Resize (at most one uint8 level, within the parity tolerance). Measured in CPU time,
    1 thread, stylegan2_64: +7% at batch 1, +8% at 8, +13% at 64 (benchmarks/results/runtime.md), with an
    identity 1x1 Conv in this place; the pool does the same without the conv's C multiply-adds per value
    (stylegan2_32.digits batch 64: 28.0 -> 27.4 ms). Only channels that are a multiple of `block` (the
    blocked layout's width) qualify.
    """
    model = copy.deepcopy(model)
    graph = model.graph
    shapes = value_shapes(model)
    producers = {o: n for n in graph.node for o in n.output}
    nodes, inserted = [], 0
    for node in graph.node:
        source = producers.get(node.input[0]) if node.op_type == "Resize" and node.input else None
        shape = shapes.get(node.input[0]) if source is not None else None
        if (
            source is not None
            and source.op_type not in ("Conv", "MaxPool")
            and shape is not None
            and len(shape) == 4
            and isinstance(shape[1], int)
            and shape[1] % block == 0
        ):
            name = f"{node.name or node.output[0]}_blocked".replace("/", "_")
            nodes.append(helper.make_node("MaxPool", [node.input[0]], [name], name=name, kernel_shape=[1, 1]))
            node.input[0] = name
            inserted += 1
        nodes.append(node)
    set_nodes(graph, nodes)
    return model, inserted


def drop_dead_nodes(graph: onnx.GraphProto) -> None:
    """Remove the nodes whose outputs nothing reads (a rewrite bypassed them), then their weights."""
    used = {o.name for o in graph.output}
    keep = []
    for node in reversed(graph.node):
        if any(o in used for o in node.output):
            keep.append(node)
            used.update(node.input)
    set_nodes(graph, keep[::-1])
    drop_unused_initializers(graph)


def slices_of_concats(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int]:
    """A Slice of a Concat, along the Concat's axis, that takes exactly one of its inputs read as that input.
    Returns (model, slices removed).

    Why: a token-level text model's graph packs its inputs into one condition row ([pooled | tokens | mask],
    the generator's own input, zoo_runtime.text.tokens) and slices them out again at once: a copy of every
    token per image and three slices (dcgan32_minilm.shapes: 3% of the fp32 time at batch 64)."""
    model = copy.deepcopy(model)
    graph = model.graph
    shapes = value_shapes(model)
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    producers = {o: n for n in graph.node for o in n.output}
    graph_outputs = {o.name for o in graph.output}

    def piece_taken(node) -> str | None:  # the Concat input that Slice `node` takes whole, or None
        concat = producers.get(node.input[0])
        if concat is None or concat.op_type != "Concat" or node.output[0] in graph_outputs:
            return None
        if len(node.input) < 4 or any(i not in inits for i in node.input[1:4]):
            return None
        if len(node.input) > 4 and (node.input[4] not in inits or inits[node.input[4]].tolist() != [1]):
            return None
        starts, ends, axes = (inits[i].tolist() for i in node.input[1:4])
        rank = len(shapes.get(node.input[0], []))
        axis = next(a.i for a in concat.attribute if a.name == "axis")
        if len(starts) != 1 or not rank or axes[0] % rank != axis % rank:
            return None
        begin = 0
        for piece in concat.input:
            size = shapes.get(piece, [None] * rank)[axis]
            if not isinstance(size, int):
                return None
            if (starts[0], min(ends[0], shapes[node.input[0]][axis])) == (begin, begin + size):
                return piece
            begin += size
        return None

    renamed, count = {}, 0
    for node in graph.node:
        node.input[:] = [renamed.get(i, i) for i in node.input]
        piece = piece_taken(node) if node.op_type == "Slice" else None
        if piece is not None:
            renamed[node.output[0]] = piece
            count += 1
    for node in graph.node:
        node.input[:] = [renamed.get(i, i) for i in node.input]
    drop_dead_nodes(graph)
    return model, count


def channel_affine_into_conv(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int]:
    """Conv(x * g + b) with constant per-channel g and b (either may be absent) and a Conv that pads nothing
    ==>  Conv'(x) with W' = W * g (per input channel) and bias' = bias + sum of W over each output's window * b.
    Returns (model, convolutions that took an affine).

    Why: a GroupNorm exports as InstanceNormalization and then its per-channel scale and shift, two full passes
    over the features before the token attention's 1x1 query conv (in int8 two float ops between quantized ones).
    Exact in real arithmetic: without padding every window lies inside x, so the shift adds the same to each
    output pixel.
    """
    model = copy.deepcopy(model)
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    consumers = consumers_of(graph)
    producers = {o: n for n in graph.node for o in n.output}
    graph_outputs = {o.name for o in graph.output}

    def per_channel_constant(node, c):  # (computed input, constant [C] values) of Mul/Add(x, const), else None
        if node is None or node.op_type not in ("Mul", "Add") or len(node.input) != 2:
            return None
        if node.output[0] in graph_outputs or len(consumers.get(node.output[0], [])) != 1:
            return None
        for x, k in (node.input, list(reversed(node.input))):
            if k in inits and x not in inits:
                value = numpy_helper.to_array(inits[k])
                if value.size == c and value.ndim >= 3 and value.shape[-2:] == (1, 1) and value.shape[-3] == c:
                    return x, value.reshape(c)
        return None

    dropped, folded = set(), 0
    for conv in graph.node:
        if conv.op_type != "Conv" or len(conv.input) < 2 or conv.input[1] not in inits:
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in conv.attribute}
        if (
            attrs.get("group", 1) != 1
            or any(attrs.get("pads", [0]))
            or attrs.get("auto_pad", b"NOTSET")
            not in (
                b"NOTSET",
                "NOTSET",
                b"VALID",
                "VALID",
            )
        ):
            continue
        w = numpy_helper.to_array(inits[conv.input[1]])
        c = w.shape[1]
        scale, shift = np.ones(c, w.dtype), np.zeros(c, w.dtype)
        source, chain = conv.input[0], []
        for op in ("Add", "Mul"):  # x * g + b, read from the conv back: the shift first, then the scale
            node = producers.get(source)
            found = per_channel_constant(node, c) if node is not None and node.op_type == op else None
            if found is None:
                continue
            source, value = found
            if op == "Add":
                shift = value.astype(w.dtype)
            else:
                scale = value.astype(w.dtype)
            chain.append(node)
        if not chain:
            continue
        bias = numpy_helper.to_array(inits[conv.input[2]]) if len(conv.input) > 2 and conv.input[2] else 0
        name = f"{conv.name or conv.output[0]}_affine".replace("/", "_")
        new_w = w * scale[None, :, None, None]
        new_b = (bias + np.einsum("ochw,c->o", w, shift)).astype(w.dtype)
        graph.initializer.extend(
            [numpy_helper.from_array(new_w, name + "_w"), numpy_helper.from_array(new_b, name + "_b")]
        )
        conv.input[:] = [source, name + "_w", name + "_b"]
        dropped.update(id(n) for n in chain)
        folded += 1
    set_nodes(graph, [n for n in graph.node if id(n) not in dropped])
    drop_unused_initializers(graph)
    return model, folded


def fold_constant_arithmetic(model: onnx.ModelProto) -> onnx.ModelProto:
    """Every Mul or Add of two initializers that only Adds read replaced by an initializer holding its value
    (named `<output>_constant`). Only for Adds: a constant weight computed for a Gemm (StyleGAN2's affine
    layers, weight * lr_mul) stays computed, or int8 export would quantize those Gemms too, and ONNX Runtime's
    quantizer, naming the copies of their shared bias `mul_62` + an index, met the graph's own `mul_623`."""
    model = copy.deepcopy(model)
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    graph_outputs = {o.name for o in graph.output}
    consumers = consumers_of(graph)
    nodes, renamed = [], {}
    for node in graph.node:
        node.input[:] = [renamed.get(i, i) for i in node.input]
        if (
            node.op_type in ("Mul", "Add")
            and len(node.input) == 2
            and all(i in inits for i in node.input)
            and node.output[0] not in graph_outputs
            and all(u.op_type == "Add" for u in consumers.get(node.output[0], []))
        ):
            a, b = (numpy_helper.to_array(inits[i]) for i in node.input)
            value = (a * b if node.op_type == "Mul" else a + b).astype(np.result_type(a, b))
            name = renamed[node.output[0]] = f"{node.output[0]}_constant"
            graph.initializer.append(numpy_helper.from_array(value, name))
            inits[name] = graph.initializer[-1]
            continue
        nodes.append(node)
    set_nodes(graph, nodes)
    drop_unused_initializers(graph)
    return model


def fold_elementwise_chains(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int]:
    """Two exact folds that drop full-size elementwise passes. Returns (model, nodes removed).

    - Add(Add(x, A), B) with constant A, B  ->  Add(x, A + B): StyleGAN2's noise and bias after each
      modulated conv, one pass instead of two.
    - Mul(Mul(t, c), s) with a constant scalar c and s smaller than t  ->  Mul(t, Mul(s, c)): the
      activation gain moves onto the next layers' per-sample styles s ([N, C, 1, 1]), so the big tensor
      t is scaled once (for each consumer of Mul(t, c)).
    Why: after each StyleGAN2 conv, six NCHW elementwise passes over the largest tensors (demodulate,
    noise, bias, lrelu, gain, next styles) run outside ONNX Runtime's fused blocked convolutions; this
    makes them four. Exact in real arithmetic (float results differ by rounding order only).

    First, a Mul or Add of two constants becomes one constant: the exporter sometimes leaves the noise
    (noise_const * strength) computed, e.g. when layers share a deduplicated strength, and then the noise
    and bias Adds did not fold (the 256 px StyleGAN2 ran two full-size Adds per layer).
    """
    model = fold_constant_arithmetic(model)
    graph = model.graph
    shapes = value_shapes(model)
    inits = {i.name: i for i in graph.initializer}
    graph_outputs = {o.name for o in graph.output}
    consumers = consumers_of(graph)

    def users_if_all(node, op_type):  # the consumers when every one is an op_type node, else []
        users = consumers.get(node.output[0], [])
        if node.output[0] in graph_outputs or any(u.op_type != op_type or len(u.input) != 2 for u in users):
            return []
        return users if len({id(u) for u in users}) == len(users) else []

    def split(node):  # (the non-constant input, the constant one) or None
        a, b = node.input[0], node.input[1]
        if b in inits and a not in inits:
            return a, b
        if a in inits and b not in inits:
            return b, a
        return None

    def smaller(a, b):  # a is a computed tensor with fewer elements per sample than b (shapes known)
        sa, sb = shapes.get(a), shapes.get(b)
        if a in inits or sa is None or sb is None or len(sa) != len(sb) or len(sa) < 2:
            return False
        if not all(isinstance(d, int) for d in [*sa[1:], *sb[1:]]):
            return False
        return int(np.prod(sa[1:])) < int(np.prod(sb[1:]))

    def other_input(user, name):
        return user.input[1] if user.input[0] == name else user.input[0]

    dropped, before = set(), {}  # before[id(node)]: nodes to insert just before it
    for node in graph.node:
        if node.op_type not in ("Add", "Mul") or len(node.input) != 2 or id(node) in dropped:
            continue
        inner, users = split(node), users_if_all(node, node.op_type)
        if inner is None or not users or any(id(u) in dropped for u in users):
            continue
        x, c = inner
        c_value = numpy_helper.to_array(inits[c])
        others = [other_input(u, node.output[0]) for u in users]
        base = f"{node.name or node.output[0]}_folded".replace("/", "_")
        if node.op_type == "Add" and len(users) == 1 and others[0] in inits:
            total = (c_value + numpy_helper.to_array(inits[others[0]])).astype(c_value.dtype)
            graph.initializer.append(numpy_helper.from_array(total, base))
            users[0].input[:] = [x, base]
        elif node.op_type == "Mul" and c_value.size == 1 and all(smaller(o, x) for o in others):
            for k, (user, other) in enumerate(zip(users, others)):
                name = f"{base}{k}"
                before.setdefault(id(user), []).append(helper.make_node("Mul", [other, c], [name], name=name))
                user.input[:] = [x, name]
        else:
            continue
        dropped.add(id(node))
    nodes = []
    for n in graph.node:
        if id(n) not in dropped:
            nodes.extend(before.get(id(n), []))
            nodes.append(n)
    set_nodes(graph, nodes)
    drop_unused_initializers(graph)
    return model, len(dropped)


def thin_conv_after_interleave(node, consumers: dict, inits: dict, graph_outputs: set, block: int):
    """(conv, its weights [Cout, C, k, k], block size s, pad) when `node` is a DCR DepthToSpace whose only reader is a
    plain stride-1 square Conv with constant weights and s*s*Cout <= `block` outputs; else None."""
    users = consumers.get(node.output[0], [])
    conv = users[0] if len(users) == 1 and users[0].op_type == "Conv" else None
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if (
        node.op_type != "DepthToSpace"
        or attrs.get("mode", b"DCR") not in (b"DCR", "DCR")
        or conv is None
        or node.output[0] in graph_outputs
        or conv.input[1] not in inits
    ):
        return None
    c_attrs = {a.name: helper.get_attribute_value(a) for a in conv.attribute}
    w = numpy_helper.to_array(inits[conv.input[1]])
    s, pads = attrs["blocksize"], c_attrs.get("pads", [0, 0, 0, 0])
    plain = c_attrs.get("group", 1) == 1 and c_attrs.get("auto_pad", b"NOTSET") in (b"NOTSET", "NOTSET")
    plain = plain and all(v == 1 for v in [*c_attrs.get("strides", [1, 1]), *c_attrs.get("dilations", [1, 1])])
    if not plain or w.ndim != 4 or w.shape[2] != w.shape[3] or len(set(pads)) != 1 or w.shape[0] * s * s > block:
        return None
    if w.shape[2] != 2 * pads[0] + 1:  # only a "same" conv keeps the interleaved size that DepthToSpace writes
        return None
    return conv, w, s, pads[0]


def replace_thin_convs_after_interleaves(
    model: onnx.ModelProto, block: int, replacement
) -> tuple[onnx.ModelProto, int]:
    """Each (DepthToSpace, thin conv) pair `thin_conv_after_interleave` finds replaced by the nodes
    `replacement(graph, interleave, conv, w, s, pad, bias)` returns (bias: the conv's, or zeros); the conv's
    output keeps its name. Returns (model, convolutions replaced)."""
    model = copy.deepcopy(model)
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    consumers = consumers_of(graph)
    graph_outputs = {o.name for o in graph.output}
    nodes, replaced = [], set()
    for node in graph.node:
        if id(node) in replaced:
            continue
        found = thin_conv_after_interleave(node, consumers, inits, graph_outputs, block)
        if found is None:
            nodes.append(node)
            continue
        conv, w, s, pad = found
        has_bias = len(conv.input) > 2 and conv.input[2]
        bias = numpy_helper.to_array(inits[conv.input[2]]) if has_bias else np.zeros(w.shape[0], w.dtype)
        nodes += replacement(graph, node, conv, w, s, pad, bias)
        replaced.add(id(conv))
    set_nodes(graph, nodes)
    drop_unused_initializers(graph)
    return model, len(replaced)


def conv_after_depth_to_space(model: onnx.ModelProto, block: int = 16) -> tuple[onnx.ModelProto, int]:
    """Conv(DepthToSpace_s(P))  ==  DepthToSpace_s(output phases sliced from Conv'(P)) for a stride-1 Conv whose
    s*s*Cout phase outputs fit in one `block`. Returns (model, convolutions moved).

    Output phase A of a k x k conv (padding p) after an s-fold interleave reads P at offsets u in
    [(A - p) // s, (A + k - 1 - p) // s] from its own position: the same window length for every phase, shifted
    by phase. Conv' computes all s*s*Cout output phases with that window (2 x 2 for a 3 x 3 conv after a 2x
    interleave) over a grid one row and column larger, and each output phase is the slice of it at its shift.

    Why: a DCGAN's last layer is a 3-channel conv on the interleaved output of the last (phase-rewritten)
    transposed conv. ONNX Runtime pads those 3 output channels to a block of 16 anyway, so computing all s*s
    output phases on the small phase tensor P costs the same padded work, and the big interleave (DepthToSpace)
    and its two layout reorders move to the 3-channel output. Measured by benchmarks/runtime.py's notes:
    dcgan32 batch 64, 1 thread, -13% CPU time. One window shared by all phases, where before one window spanned
    them all (3 x 3 over P: 2.25x the multiply-adds), made dcgan32_minilm.shapes' int8 last conv 1.2 -> 0.6 ms.
    Exact: the same products, summed with zero taps.
    """

    def on_phases(graph, interleave, conv, w, s, pad, bias):
        cout, cin, k = w.shape[0], w.shape[1], w.shape[2]
        first = [(a - pad) // s for a in range(s)]  # output phase a's window starts at offset first[a]
        size = max((a + k - 1 - pad) // s - first[a] for a in range(s)) + 1
        low, spread = min(first), max(first) - min(first)
        kernel = np.zeros((s * s * cout, s * s * cin, size, size), w.dtype)
        for out_a in range(s):
            for out_b in range(s):
                o = (out_a * s + out_b) * cout  # DCR channel order, as DepthToSpace reads it
                for dy in range(k):
                    for dx in range(k):
                        # output phase A's tap dy reads rows s*I + A + dy - pad = s*(I + u) + a: P's phase a at I + u
                        (u, a), (v, b) = divmod(out_a + dy - pad, s), divmod(out_b + dx - pad, s)
                        i = (a * s + b) * cin
                        kernel[o : o + cout, i : i + cin, u - first[out_a], v - first[out_b]] += w[:, :, dy, dx]
        name = f"{conv.name or conv.output[0]}_on_phases".replace("/", "_")
        graph.initializer.append(numpy_helper.from_array(kernel, name + "_w"))
        graph.initializer.append(numpy_helper.from_array(np.tile(bias, s * s), name + "_b"))
        # Conv' row r holds the window starting at offset r + low: output phase a's row I is at I + first[a] - low
        after = spread + size - 1 + low
        nodes = [
            helper.make_node(
                "Conv",
                [interleave.input[0], name + "_w", name + "_b"],
                [name],
                name=name,
                kernel_shape=[size, size],
                pads=[-low, -low, after, after],
            )
        ]
        big = np.iinfo(np.int64).max
        pieces = []
        for out_a in range(s):
            for out_b in range(s):
                o, piece = (out_a * s + out_b) * cout, f"{name}_phase{out_a}{out_b}"
                y, x = first[out_a] - low, first[out_b] - low
                y_end, x_end = (y - spread) or big, (x - spread) or big  # from the end: the grid is `spread` larger
                for suffix, value in (("_starts", [o, y, x]), ("_ends", [o + cout, y_end, x_end])):
                    graph.initializer.append(numpy_helper.from_array(np.array(value, np.int64), piece + suffix))
                axes = name + "_axes"
                nodes.append(
                    helper.make_node("Slice", [name, piece + "_starts", piece + "_ends", axes], [piece], name=piece)
                )
                pieces.append(piece)
        graph.initializer.append(numpy_helper.from_array(np.array([1, 2, 3], np.int64), name + "_axes"))
        if spread == 0:  # every phase at the same place: the conv's output is already the phase tensor
            nodes = nodes[:1]
            pieces = [name]
        else:
            nodes.append(helper.make_node("Concat", pieces, [name + "_phases"], name=name + "_phases", axis=1))
            pieces = [name + "_phases"]
        nodes.append(
            helper.make_node("DepthToSpace", pieces, [conv.output[0]], name=name + "_d2s", blocksize=s, mode="DCR")
        )
        return nodes

    return replace_thin_convs_after_interleaves(model, block, on_phases)


def move_ops_before(model: onnx.ModelProto, mover: str, move) -> tuple[onnx.ModelProto, int]:
    """The loop of the passes that move elementwise ops before an op of type `mover` (an interleave, a Concat):
    for each `mover` node whose output one op reads, `move(graph, node, op, shapes, inits)` moves that op before
    it (True) or leaves it (False); one op at a time, until nothing moves. Returns (model, ops moved)."""
    model = copy.deepcopy(model)
    graph = model.graph
    shapes = value_shapes(model)
    inits = {i.name: i for i in graph.initializer}
    graph_outputs = {o.name for o in graph.output}
    moved, changed = 0, True
    while changed:
        changed = False
        consumers = consumers_of(graph)
        for node in graph.node:
            users = consumers.get(node.output[0], [])
            if node.op_type != mover or len(users) != 1 or node.output[0] in graph_outputs:
                continue
            if move(graph, node, users[0], shapes, inits):
                moved, changed = moved + 1, True
                break
    drop_unused_initializers(graph)
    return model, moved


PHASE_UNARY = ("Relu", "LeakyRelu", "Tanh", "Sigmoid")  # elementwise: they commute with the interleave


def elementwise_before_depth_to_space(
    model: onnx.ModelProto, only_before_thin_convs: bool = False, block: int = 16
) -> tuple[onnx.ModelProto, int]:
    """DepthToSpace(P) -> per-channel Mul/Add or a unary activation  ==>  the op on P (its per-channel operand
    tiled over the s*s phases) -> DepthToSpace. Returns (model, ops moved).

    Why: a text or class FiLM (per-sample channel scale and shift) and the Relu between a DCGAN's last
    interleave and its 3-channel conv keep `conv_after_depth_to_space` from applying; moved before the
    interleave they cost the same (same element count) and the conv can follow. Exact.

    With `only_before_thin_convs`, only ops on the way from an interleave to a conv with at most `block` phase
    outputs move (fp32): elsewhere a FiLM stays after the interleave, one pass over one tensor where before it
    the scale and shift are tiled and each phase convolution's output leaves the blocked layout on its own
    (dcgan32_minilm.shapes at batch 64, 1 thread, CPU time: -0.5 ms of 19).
    """

    def leads_to_thin_conv(graph, d2s, s: int) -> bool:  # following single readers through movable ops
        consumers, inits = consumers_of(graph), {i.name: i for i in graph.initializer}
        node = d2s
        while True:
            users = consumers.get(node.output[0], [])
            if len(users) != 1:
                return False
            node = users[0]
            if node.op_type == "Conv":
                return node.input[1] in inits and inits[node.input[1]].dims[0] * s * s <= block
            if node.op_type not in ("Mul", "Add", *PHASE_UNARY):
                return False

    def move(graph, d2s, op, shapes, inits) -> bool:
        attrs = {a.name: helper.get_attribute_value(a) for a in d2s.attribute}
        if attrs.get("mode", b"DCR") not in (b"DCR", "DCR"):
            return False
        s = attrs["blocksize"]
        if only_before_thin_convs and not leads_to_thin_conv(graph, d2s, s):
            return False
        new_inputs = [d2s.input[0]]
        if op.op_type in ("Mul", "Add") and len(op.input) == 2:
            other = op.input[1] if op.input[0] == d2s.output[0] else op.input[0]
            shape = shapes.get(other)
            if other == d2s.output[0] or shape is None or len(shape) != 4 or shape[2:] != [1, 1]:
                return False
            name = f"{op.name or op.output[0]}_phases".replace("/", "_")
            if other in inits:
                value = numpy_helper.to_array(inits[other])
                graph.initializer.append(numpy_helper.from_array(np.tile(value, (1, s * s, 1, 1)), name))
                inits[name] = graph.initializer[-1]
            else:
                repeats = name + "_repeats"
                graph.initializer.append(numpy_helper.from_array(np.array([1, s * s, 1, 1], np.int64), repeats))
                inits[repeats] = graph.initializer[-1]
                tile = helper.make_node("Tile", [other, repeats], [name], name=name)
                graph.node.insert(list(graph.node).index(op), tile)
            new_inputs.append(name)
        elif op.op_type not in PHASE_UNARY:
            return False
        # op now reads P and writes a phase tensor; the interleave reads that and writes op's old output
        phase_out = f"{op.output[0]}_before_d2s"
        op.input[:] = new_inputs
        old_out = op.output[0]
        op.output[0] = phase_out
        d2s.input[0] = phase_out
        d2s.output[0] = old_out
        nodes = [n for n in graph.node if n is not d2s]
        nodes.insert(nodes.index(op) + 1, d2s)
        set_nodes(graph, nodes)
        return True

    return move_ops_before(model, "DepthToSpace", move)


def elementwise_before_concat(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int]:
    """Concat of k equal pieces along channels -> a unary activation, or a Mul/Add whose per-channel operand is
    one [., C, 1, 1] value tiled k times  ==>  the op on each piece -> Concat. Returns (model, ops moved).

    Why: `elementwise_before_depth_to_space` leaves a FiLM (scale, shift) and Relu on the phase convolutions'
    Concat, tiled over the phases; moved before it, the last conv's phase groups (`thin_conv_as_phase_groups`)
    read the phase convolutions' outputs directly and the Concat and a Split of it go (dcgan32_minilm.shapes:
    2 copies of the largest phase tensor). The same element count either way. Exact.
    """

    def move(graph, cat, op, shapes, inits) -> bool:
        producers = {o: n for n in graph.node for o in n.output}
        axis = next(a.i for a in cat.attribute if a.name == "axis")
        sizes = [shapes.get(p, [None, None])[1] if len(shapes.get(p, [])) == 4 else None for p in cat.input]
        k, c = len(cat.input), sizes[0]
        if axis != 1 or k < 2 or c is None or any(z != c for z in sizes):
            return False
        per_piece = None  # the per-channel operand each piece's op reads
        if op.op_type in ("Mul", "Add") and len(op.input) == 2 and op.input[0] != op.input[1]:
            other = op.input[1] if op.input[0] == cat.output[0] else op.input[0]
            tile = producers.get(other)
            if other in inits:
                value = numpy_helper.to_array(inits[other])
                if value.ndim == 4 and value.shape[1] == k * c and value.shape[2:] == (1, 1):
                    first = value[:, :c]
                    if all(np.array_equal(first, value[:, i * c : (i + 1) * c]) for i in range(k)):
                        per_piece = f"{op.name or op.output[0]}_per_piece".replace("/", "_")
                        graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(first), per_piece))
                        inits[per_piece] = graph.initializer[-1]
            elif tile is not None and tile.op_type == "Tile" and tile.input[1] in inits:
                repeats = numpy_helper.to_array(inits[tile.input[1]]).tolist()
                if repeats == [1, k, 1, 1] and shapes.get(tile.input[0], [None])[1:] == [c, 1, 1]:
                    per_piece = tile.input[0]
            if per_piece is None:
                return False
        elif op.op_type not in PHASE_UNARY:
            return False
        name = (op.name or op.output[0]).replace("/", "_")
        pieces, new_nodes = [], []  # the new Concat writes op's output: a graph output keeps its name
        for i, piece in enumerate(cat.input):
            out = f"{name}_piece{i}"
            copy_ = helper.make_node(op.op_type, [piece] + ([per_piece] if per_piece else []), [out], name=out)
            copy_.attribute.extend(op.attribute)
            new_nodes.append(copy_)
            pieces.append(out)
            shapes[out] = shapes[piece]
        new_cat = helper.make_node("Concat", pieces, [op.output[0]], name=cat.name, axis=1)
        nodes = []
        for n in graph.node:
            if n is op:
                nodes += [*new_nodes, new_cat]
            elif n is not cat:
                nodes.append(n)
        set_nodes(graph, nodes)
        drop_dead_nodes(graph)  # the Tile, when nothing else reads it
        return True

    return move_ops_before(model, "Concat", move)


def thin_modulated_conv_to_matmul(
    model: onnx.ModelProto, max_out: int = 4, channels_last: bool = False
) -> tuple[onnx.ModelProto, int]:
    """Conv1x1(Mul(x, s), W)  ==  Reshape(MatMul(s * W, x as [N, C, H*W])) for a 1x1 Conv with at most `max_out`
    output channels whose input is x [N, C, H, W] scaled per sample and channel by s [N, C, 1, 1]. Returns
    (model, convolutions rewritten).

    Why: StyleGAN2's toRGB layers are such convolutions (1 or 3 output channels, styles s). ONNX Runtime runs
    them as blocked convolutions padded to 8 or 16 output channels, after a full-size Mul pass and a reorder
    into the blocked layout, and upsamples the padded RGB skip tensor. As a batched MatMul with the styles on
    the tiny per-sample weights (s * W, [N, Cout, C]), x is read once and everything after it has Cout channels.
    Exact: the same products, summed in another order.

    `channels_last` (int8 graphs, whose convs ONNX Runtime runs channels-last): x is read as rows [N, H*W, C]
    through an explicit NHWC transpose, which cancels against ONNX Runtime's own instead of adding one; for one
    output channel the result is reshaped, not transposed, back (a trailing dimension of 1 sends ONNX Runtime's
    elementwise ops after it down a per-element broadcast path, 50x slower).
    """
    model = copy.deepcopy(model)
    graph = model.graph
    shapes = value_shapes(model)
    inits = {i.name: i for i in graph.initializer}
    producers = {o: n for n in graph.node for o in n.output}
    consumers = consumers_of(graph)
    graph_outputs = {o.name for o in graph.output}

    def scaled_input(conv):  # (x, s, the Mul) when conv reads Mul(x, s) with s per sample and channel, else None
        mul = producers.get(conv.input[0])
        if mul is None or mul.op_type != "Mul" or len(mul.input) != 2 or mul.output[0] in graph_outputs:
            return None
        if len(consumers.get(mul.output[0], [])) != 1:
            return None
        found = per_sample_channel_scale(mul, shapes, inits)
        return None if found is None else (*found, mul)

    nodes, dropped, rewritten = [], set(), 0
    replacement = {}  # id(conv) -> nodes that replace it
    for conv in graph.node:
        if conv.op_type != "Conv" or conv.input[1] not in inits:
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in conv.attribute}
        w = numpy_helper.to_array(inits[conv.input[1]])
        plain = attrs.get("group", 1) == 1 and attrs.get("auto_pad", b"NOTSET") in (b"NOTSET", "NOTSET")
        plain = plain and all(v == 1 for v in [*attrs.get("strides", [1, 1]), *attrs.get("dilations", [1, 1])])
        plain = plain and not any(attrs.get("pads", [0, 0, 0, 0]))
        found = (
            scaled_input(conv) if plain and w.ndim == 4 and w.shape[2:] == (1, 1) and w.shape[0] <= max_out else None
        )
        if found is None:
            continue
        x, s, mul = found
        cout, channels, height, width = w.shape[0], w.shape[1], shapes[x][2], shapes[x][3]
        name = f"{conv.name or conv.output[0]}_as_matmul".replace("/", "_")
        out = conv.output[0] if len(conv.input) < 3 or not conv.input[2] else name + "_nobias"
        if channels_last:  # x as rows of channels [N, H*W, C] @ (s * W)^T [N, C, Cout]
            constants = {
                "_w": w.reshape(cout, channels).T.reshape(1, channels, cout).copy(),
                "_style_shape": np.array([-1, channels, 1], np.int64),
                "_flat_shape": np.array([0, height * width, channels], np.int64),
                "_image_shape": np.array([0, height, width, cout], np.int64),
            }
            new = [
                helper.make_node("Transpose", [x], [name + "_nhwc"], name=name + "_nhwc", perm=[0, 2, 3, 1]),
                helper.make_node(
                    "Reshape", [name + "_nhwc", name + "_flat_shape"], [name + "_flat"], name=name + "_flat"
                ),
                helper.make_node("Reshape", [s, name + "_style_shape"], [name + "_style"], name=name + "_style"),
                helper.make_node("Mul", [name + "_style", name + "_w"], [name + "_weights"], name=name + "_weights"),
                helper.make_node("MatMul", [name + "_flat", name + "_weights"], [name + "_y"], name=name),
            ]
            if cout == 1:  # [N, H*W, 1] is [N, 1, H, W] already: no transpose for ONNX Runtime to push onward
                constants["_image_shape"] = np.array([0, 1, height, width], np.int64)
                new.append(
                    helper.make_node("Reshape", [name + "_y", name + "_image_shape"], [out], name=name + "_image")
                )
            else:
                new += [
                    helper.make_node(
                        "Reshape", [name + "_y", name + "_image_shape"], [name + "_yi"], name=name + "_image"
                    ),
                    helper.make_node("Transpose", [name + "_yi"], [out], name=name + "_nchw", perm=[0, 3, 1, 2]),
                ]
        else:  # (s * W) [N, Cout, C] @ x as [N, C, H*W]
            constants = {
                "_w": w.reshape(1, cout, channels),
                "_style_shape": np.array([-1, 1, channels], np.int64),
                "_flat_shape": np.array([0, channels, height * width], np.int64),
                "_image_shape": np.array([0, cout, height, width], np.int64),
            }
            new = [
                helper.make_node("Reshape", [s, name + "_style_shape"], [name + "_style"], name=name + "_style"),
                helper.make_node("Mul", [name + "_style", name + "_w"], [name + "_weights"], name=name + "_weights"),
                helper.make_node("Reshape", [x, name + "_flat_shape"], [name + "_flat"], name=name + "_flat"),
                helper.make_node("MatMul", [name + "_weights", name + "_flat"], [name + "_y"], name=name),
                helper.make_node("Reshape", [name + "_y", name + "_image_shape"], [out], name=name + "_image"),
            ]
        for suffix, value in constants.items():
            graph.initializer.append(numpy_helper.from_array(value, name + suffix))
        if out != conv.output[0]:
            bias = numpy_helper.to_array(inits[conv.input[2]]).reshape(1, cout, 1, 1)
            graph.initializer.append(numpy_helper.from_array(bias, name + "_bias"))
            new.append(helper.make_node("Add", [out, name + "_bias"], [conv.output[0]], name=name + "_bias"))
        replacement[id(conv)] = new
        dropped.add(id(mul))
        rewritten += 1
    for n in graph.node:
        if id(n) in dropped:
            continue
        nodes.extend(replacement.get(id(n), [n]))
    set_nodes(graph, nodes)
    drop_unused_initializers(graph)
    return model, rewritten


def thin_conv_as_phase_groups(model: onnx.ModelProto, block: int = 16) -> tuple[onnx.ModelProto, int]:
    """Conv(DepthToSpace_s(P)) for a stride-1 k x k Conv whose s*s*Cout phase outputs fit in one `block`, as one
    small conv per input phase of P, summed, then the interleave. Returns (model, convolutions replaced).

        out = DepthToSpace(sum over input phases (a, b) of Conv(P_ab, W_ab))

    P_ab is P's channels of input phase (a, b) (the phase convolutions' own outputs when P is their Concat, else a
    Split of P), and W_ab holds, for every output phase, the taps of the k x k kernel that read phase (a, b): a
    2 x 2 window for a 3 x 3 conv after a 2x interleave, each phase group with its own padding.

    Why: a DCGAN's last conv has 1 or 3 outputs, and ONNX Runtime's blocked convolution pads them to a block of
    16. On the whole phase tensor (`conv_after_depth_to_space`) every output phase also multiplies the zero taps
    of a 3 x 3 window over all s*s phases (1.8M multiply-adds per 32 px image for 0.44M); the taps-as-channels form
    (a grouped 1x1 per input phase, a one-hot depthwise shift, a 1x1 sum: the previous fp32 form) has only the
    conv's own, but writes and re-reads a tensor of up to 8 taps per input channel. Here: 2 x 2 windows (0.79M), nothing in between, and the sums fuse into the convolutions. Exact:
    the same products, summed in another order.
    """

    def phase_groups(graph, interleave, conv, w, s, pad, bias):
        cout, cin, k = w.shape[0], w.shape[1], w.shape[2]
        # output phase A's tap dy reads rows s*I + A + dy - pad = s*(I + u) + a of the interleaved input: P's phase a
        # at I + u. Per input phase a: the offsets u it is read at, and the taps
        reads: dict[int, list] = {a: [] for a in range(s)}
        for out_a in range(s):
            for dy in range(k):
                u, a = divmod(out_a + dy - pad, s)
                reads[a].append((out_a, dy, u))
        low = {a: min(0, *(u for _, _, u in r)) for a, r in reads.items()}
        high = {a: max(0, *(u for _, _, u in r)) for a, r in reads.items()}
        producer = next((n for n in graph.node if interleave.input[0] in n.output), None)
        pieces = list(producer.input) if producer is not None and producer.op_type == "Concat" else []
        name = f"{conv.name or conv.output[0]}_groups".replace("/", "_")
        nodes = []
        if len(pieces) != s * s or next(a.i for a in producer.attribute if a.name == "axis") != 1:
            pieces = [f"{name}_p{g}" for g in range(s * s)]
            graph.initializer.append(numpy_helper.from_array(np.full(s * s, cin, np.int64), name + "_sizes"))
            split = helper.make_node(
                "Split", [interleave.input[0], name + "_sizes"], pieces, name=name + "_split", axis=1
            )
            nodes.append(split)
        total = None
        for a in range(s):
            for b in range(s):
                kernel = np.zeros((s * s * cout, cin, high[a] - low[a] + 1, high[b] - low[b] + 1), w.dtype)
                for out_a, dy, u in reads[a]:
                    for out_b, dx, v in reads[b]:
                        o = (out_a * s + out_b) * cout  # DCR channel order, as DepthToSpace reads it
                        kernel[o : o + cout, :, u - low[a], v - low[b]] = w[:, :, dy, dx]
                g = f"{name}_{a}{b}"
                graph.initializer.append(numpy_helper.from_array(kernel, g + "_w"))
                inputs = [pieces[a * s + b], g + "_w"]
                if total is None:
                    graph.initializer.append(numpy_helper.from_array(np.tile(bias, s * s).astype(w.dtype), g + "_b"))
                    inputs.append(g + "_b")
                pads = [-low[a], -low[b], high[a], high[b]]
                nodes.append(
                    helper.make_node("Conv", inputs, [g], name=g, kernel_shape=list(kernel.shape[2:]), pads=pads)
                )
                if total is not None:
                    nodes.append(helper.make_node("Add", [total, g], [g + "_sum"], name=g + "_sum"))
                total = g if total is None else g + "_sum"
        nodes.append(
            helper.make_node("DepthToSpace", [total], [conv.output[0]], name=name + "_d2s", blocksize=s, mode="DCR")
        )
        return nodes

    model, replaced = replace_thin_convs_after_interleaves(model, block, phase_groups)
    drop_dead_nodes(model.graph)  # the Concat, when the groups read its inputs
    return model, replaced


def interleave_channels_last(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int]:
    """DepthToSpace_s (DCR) that feeds convolutions or a per-channel Mul (a FiLM scale), as the same interleave
    done channels-last:

        Transpose(NHWC) -> Reshape [N, H, W, s, s*C] -> Transpose(swap W and the row phase) -> Reshape [N, sH, sW, C]
        -> Transpose(NCHW)

    Returns (model, interleaves rewritten). Why: ONNX Runtime's DepthToSpace is a 6-D transpose that moves single
    floats (the column phase is the innermost axis), about five times the cost of a copy; channels-last, every move
    is a run of s*C contiguous floats, the first Transpose merges into the reorder out of the blocked layout the
    phase convolutions write, and the last one is a plain NHWC -> NCHW copy. Measured at batch 64, 1 thread, CPU
    time, best of 20: dcgan32.digits 12.7 -> 11.5 ms, dcgan32.shapes 38.2 -> 35.5 ms; a FiLM after the 4x4 -> 8x8
    interleave of dcgan32_minilm.shapes 18.3 -> 17.9 ms. Not before the output's elementwise post-processing, where
    channels-last made those passes slower. Exact (data movement only).
    """
    model = copy.deepcopy(model)
    graph = model.graph
    shapes = value_shapes(model)
    consumers = consumers_of(graph)
    graph_outputs = {o.name for o in graph.output}
    nodes, rewritten = [], 0
    for node in graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        users = consumers.get(node.output[0], [])
        shape = shapes.get(node.input[0]) if node.op_type == "DepthToSpace" else None
        if (
            shape is None
            or len(shape) != 4
            or attrs.get("mode", b"DCR") not in (b"DCR", "DCR")
            or node.output[0] in graph_outputs
            or not users
            or any(u.op_type not in ("Conv", "Mul") for u in users)
        ):
            nodes.append(node)
            continue
        s = attrs["blocksize"]
        channels, height, width = shape[1] // (s * s), shape[2], shape[3]
        name = f"{node.name or node.output[0]}_channels_last".replace("/", "_")
        graph.initializer.append(
            numpy_helper.from_array(np.array([0, height, width, s, s * channels], np.int64), name + "_split")
        )
        graph.initializer.append(
            numpy_helper.from_array(np.array([0, s * height, s * width, channels], np.int64), name + "_merge")
        )
        nodes += [
            helper.make_node("Transpose", [node.input[0]], [name + "_nhwc"], name=name + "_nhwc", perm=[0, 2, 3, 1]),
            helper.make_node("Reshape", [name + "_nhwc", name + "_split"], [name + "_split_y"], name=name + "_split"),
            helper.make_node(
                "Transpose", [name + "_split_y"], [name + "_rows"], name=name + "_rows", perm=[0, 1, 3, 2, 4]
            ),
            helper.make_node("Reshape", [name + "_rows", name + "_merge"], [name + "_merged"], name=name + "_merge"),
            helper.make_node("Transpose", [name + "_merged"], [node.output[0]], name=name + "_nchw", perm=[0, 3, 1, 2]),
        ]
        rewritten += 1
    set_nodes(graph, nodes)
    return model, rewritten


def channel_row(v: str, out: str, shape_prefix: str) -> list:
    """Nodes that tile a per-channel value v [N, C, 1, 1] into a row `out` [N, 1, W*C] (channels-last rows), with
    the shapes `channel_scales_channels_last` stores under `shape_prefix`."""
    return [
        helper.make_node("Reshape", [v, shape_prefix + "_s4_shape"], [out + "4"], name=out + "4"),
        helper.make_node("Tile", [out + "4", shape_prefix + "_tiles_shape"], [out + "_tiled"], name=out + "_tile"),
        helper.make_node("Reshape", [out + "_tiled", shape_prefix + "_s_row_shape"], [out], name=out),
    ]


def channel_scales_channels_last(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int]:
    """Mul(x [N, C, H, W], s [N, C, 1, 1]) with a computed per-sample, per-channel s, written channels-last:
    x as rows [N, H, W*C] (Transpose NHWC, Reshape) times s tiled to [N, 1, W*C], then back. Returns (model,
    Muls rewritten). For int8 graphs only.

    Why: ONNX Runtime runs int8 convolutions channels-last and moves the float ops between them (StyleGAN2's
    demodulation and style Muls, a FiLM scale) into that layout, where a [N, H, W, C] * [N, 1, 1, C] Mul
    broadcasts one C-wide row at a time: 0.79 ms against 0.11 ms channels-first at [64, 16, 32, 32], 1 thread.
    With rows of W*C the Mul is as fast as channels-first, and the explicit transposes cancel against ONNX
    Runtime's own. In an fp32 graph (channels-first, blocked) they would be real copies. Measured at batch 64,
    1 thread, CPU time: stylegan2_32.digits int8 17.0 -> 15.9 ms (15.0 with the channels-last toRGB). Exact.
    """
    model = copy.deepcopy(model)
    graph = model.graph
    shapes = value_shapes(model)
    inits = {i.name: i for i in graph.initializer}

    def per_channel(node):  # (x, s, x's shape) for a computed scale s over more than one pixel, else None
        found = per_sample_channel_scale(node, shapes, inits)
        if found is None or found[1] in inits or shapes[found[0]][2] * shapes[found[0]][3] <= 1:
            return None
        return (*found, shapes[found[0]])

    consumers = consumers_of(graph)
    graph_outputs = {o.name for o in graph.output}

    def channel_shift(node, x):  # the per-sample channel operand b when `node` is Add(x, b [N, C, 1, 1]), else None
        if node.op_type != "Add" or len(node.input) != 2 or x not in node.input:
            return None
        b = node.input[1] if node.input[0] == x else node.input[0]
        return b if b not in inits and shapes.get(b) == [shapes[x][0], shapes[x][1], 1, 1] else None

    nodes, rewritten, absorbed = [], 0, set()
    for node in graph.node:
        if id(node) in absorbed:
            continue
        found = per_channel(node) if node.op_type == "Mul" and len(node.input) == 2 else None
        if found is None:
            nodes.append(node)
            continue
        x, s, (_, c, h, w) = found
        name = f"{node.name or node.output[0]}_rows".replace("/", "_")
        # a per-sample channel Add right after (a FiLM shift), if it is the Mul's only reader, goes in the rows too
        users = consumers.get(node.output[0], [])
        shift = None
        if len(users) == 1 and node.output[0] not in graph_outputs:
            shift = channel_shift(users[0], node.output[0])
        shapes_needed = {"_x_rows": [0, h, w * c], "_s4": [0, 1, 1, c], "_tiles": [1, 1, w, 1], "_s_row": [0, 1, w * c]}
        shapes_needed["_y_nhwc"] = [0, h, w, c]
        for suffix, value in shapes_needed.items():
            graph.initializer.append(numpy_helper.from_array(np.array(value, np.int64), name + suffix + "_shape"))

        nodes += [
            helper.make_node("Transpose", [x], [name + "_x_nhwc"], name=name + "_x_nhwc", perm=[0, 2, 3, 1]),
            helper.make_node("Reshape", [name + "_x_nhwc", name + "_x_rows_shape"], [name + "_x"], name=name + "_x"),
            *channel_row(s, name + "_s", name),
            helper.make_node("Mul", [name + "_x", name + "_s"], [name + "_y"], name=name),
        ]
        out, last = name + "_y", node.output[0]
        if shift is not None:
            nodes += [
                *channel_row(shift, name + "_b", name),
                helper.make_node("Add", [out, name + "_b"], [name + "_yb"], name=name + "_add"),
            ]
            out, last = name + "_yb", users[0].output[0]
            absorbed.add(id(users[0]))
        nodes += [
            helper.make_node("Reshape", [out, name + "_y_nhwc_shape"], [name + "_y_nhwc"], name=name + "_y"),
            helper.make_node("Transpose", [name + "_y_nhwc"], [last], name=name + "_nchw", perm=[0, 3, 1, 2]),
        ]
        rewritten += 1
    set_nodes(graph, nodes)
    return model, rewritten


# The lowest exponent the rewritten softmax passes to Exp. ONNX Runtime's Exp is about 20x slower on inputs
# below about -87 (where exp underflows; masked keys add -inf): [64, 4, 17, 64] with 60% masked, 1 thread,
# 1.3 ms against 0.06 ms. exp(-80) = 1.8e-35 is far below a float's rounding of the row sum (at least 1).
SOFTMAX_EXP_FLOOR = -80.0


def softmax_as_reductions(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int]:
    """Softmax over an axis that is not the last  ==>  ReduceMax, Sub, Max(-80), Exp, ReduceSum and Div over that
    axis. Returns (model, softmaxes rewritten).

    Why: ONNX Runtime runs a Softmax over rows of the last axis, one short row at a time, and over another axis
    it transposes the tensor there and back. A token attention's scores [N, heads, 1 + T, HW]
    (zoo.conditioning.TokenAttention) are normalised over the 1 + T = 17 keys with the pixels innermost; as
    reductions every pass runs along the contiguous pixels. Measured at batch 64, 1 thread, CPU time:
    dcgan32_minilm.shapes' two attentions (mask add, softmax) 1.0 -> 0.65 ms. The same max-subtracted
    exponentials: equal up to rounding.
    """
    model = copy.deepcopy(model)
    graph = model.graph
    shapes = value_shapes(model)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 18)
    if opset < 13:  # before opset 13 a Softmax normalised over every axis from `axis` on, as one
        return model, 0
    nodes, rewritten = [], 0
    for node in graph.node:
        rank = len(shapes.get(node.input[0], [])) if node.op_type == "Softmax" else 0
        axis = next((a.i for a in node.attribute if a.name == "axis"), -1)
        if not rank or axis % rank == rank - 1:
            nodes.append(node)
            continue
        name, x, axis = (node.name or node.output[0]).replace("/", "_"), node.input[0], axis % rank
        graph.initializer.append(numpy_helper.from_array(np.array([axis], np.int64), name + "_axis"))
        graph.initializer.append(numpy_helper.from_array(np.array(SOFTMAX_EXP_FLOOR, np.float32), name + "_floor"))
        reduce = {  # ReduceMax takes its axes as an input from opset 18, an attribute before; ReduceSum from 13
            "ReduceMax": ([name + "_axis"], {}) if opset >= 18 else ([], {"axes": [axis]}),
            "ReduceSum": ([name + "_axis"], {}),
        }
        nodes += [
            helper.make_node(
                "ReduceMax",
                [x, *reduce["ReduceMax"][0]],
                [name + "_max"],
                name=name + "_max",
                keepdims=1,
                **reduce["ReduceMax"][1],
            ),
            helper.make_node("Sub", [x, name + "_max"], [name + "_shifted"], name=name + "_shift"),
            helper.make_node("Max", [name + "_shifted", name + "_floor"], [name + "_clamped"], name=name + "_floor"),
            helper.make_node("Exp", [name + "_clamped"], [name + "_exp"], name=name + "_exp"),
            helper.make_node(
                "ReduceSum",
                [name + "_exp", *reduce["ReduceSum"][0]],
                [name + "_sum"],
                name=name + "_sum",
                keepdims=1,
                **reduce["ReduceSum"][1],
            ),
            helper.make_node("Div", [name + "_exp", name + "_sum"], [node.output[0]], name=name + "_normalise"),
        ]
        rewritten += 1
    set_nodes(graph, nodes)
    return model, rewritten


def shared_normalized_projections(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int]:
    """Several LayerNormalization(x; g_i, b_i) -> MatMul(W_i) [-> Add(c_i)] [-> Split] on the same x  ==>  one
    LayerNormalization(x) without affine -> one Gemm with W = [g_i * W_i ...], bias [b_i W_i + c_i ...] -> one
    Split into each old output (the keys and values apart). Returns (model, projections merged).

    Why: each token attention of a token-text model (zoo.conditioning.TokenAttention, one per resolution)
    normalises the same caption tokens and projects them to its keys and values: the normalisation, a bias Add
    and a Split per block, and a MatMul on a [N, T, D] tensor that ONNX Runtime does not fuse with its bias.
    Folding each block's LayerNorm affine into its projection leaves one normalisation and one GEMM over
    [N * T, D] (dcgan32_minilm.shapes at batch 64, 1 thread, kernel time of those nodes: 3.6 -> 3.2 ms). Exact in real arithmetic:
    (LN(x) * g + b) W + c = LN(x) (diag(g) W) + (b W + c).
    """
    model = copy.deepcopy(model)
    graph = model.graph
    shapes = value_shapes(model)
    inits = {i.name: i for i in graph.initializer}
    consumers = consumers_of(graph)
    graph_outputs = {o.name for o in graph.output}

    def split_sizes(node, width: int, rank: int) -> list[int] | None:  # a Split of the last axis: its sizes
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type != "Split" or attrs.get("axis", 0) % rank != rank - 1:
            return None
        if len(node.input) > 1 and node.input[1]:
            return numpy_helper.to_array(inits[node.input[1]]).tolist() if node.input[1] in inits else None
        count = len(node.output)
        return list(attrs["split"]) if "split" in attrs else [width // count] * count if width % count == 0 else None

    def projection(ln):  # (W, bias, the nodes it replaces, [(width, output)]) for LN -> MatMul [-> Add] [-> Split]
        attrs = {a.name: helper.get_attribute_value(a) for a in ln.attribute}
        users = consumers.get(ln.output[0], [])
        shape = shapes.get(ln.input[0])
        if len(ln.input) < 2 or any(i not in inits for i in ln.input[1:]) or len(ln.output) != 1 or shape is None:
            return None
        if attrs.get("axis", -1) % len(shape) != len(shape) - 1 or len(users) != 1 or users[0].op_type != "MatMul":
            return None
        matmul = users[0]
        if matmul.input[0] != ln.output[0] or matmul.input[1] not in inits or ln.output[0] in graph_outputs:
            return None
        w = numpy_helper.to_array(inits[matmul.input[1]])
        gain = numpy_helper.to_array(inits[ln.input[1]])
        shift = numpy_helper.to_array(inits[ln.input[2]]) if len(ln.input) > 2 else np.zeros_like(gain)
        if w.ndim != 2:
            return None
        replaced, out, bias = [ln, matmul], matmul.output[0], shift @ w
        after = consumers.get(out, [])
        if len(after) == 1 and after[0].op_type == "Add" and out not in graph_outputs:
            other = [i for i in after[0].input if i != out]
            if len(other) == 1 and other[0] in inits and numpy_helper.to_array(inits[other[0]]).shape == (w.shape[1],):
                bias = bias + numpy_helper.to_array(inits[other[0]])
                replaced, out = replaced + [after[0]], after[0].output[0]
        parts = [(w.shape[1], out)]
        after = consumers.get(out, [])
        sizes = split_sizes(after[0], w.shape[1], len(shape)) if len(after) == 1 and out not in graph_outputs else None
        if sizes is not None:  # the keys and values chunked apart: one Split gives every piece
            replaced, parts = replaced + [after[0]], list(zip(sizes, after[0].output))
        return gain[:, None] * w, bias, replaced, parts

    groups: dict[tuple, list] = {}
    for node in graph.node:
        if node.op_type == "LayerNormalization":
            attrs = tuple(sorted((a.name, helper.get_attribute_value(a)) for a in node.attribute))
            found = projection(node)
            if found is not None:
                groups.setdefault((node.input[0], attrs), []).append((node, *found))
    nodes, merged, replaced = list(graph.node), 0, set()
    for (x, _), members in groups.items():
        shape = shapes[x]
        if len(members) < 2 or not all(isinstance(d, int) for d in shape[1:]):
            continue
        name = f"{members[0][0].name or members[0][0].output[0]}_shared".replace("/", "_")
        depth = shape[-1]
        w = np.concatenate([m[1] for m in members], 1).astype(np.float32)
        bias = np.concatenate([m[2] for m in members]).astype(np.float32)
        parts = [part for m in members for part in m[4]]
        sizes = [width for width, _ in parts]
        for suffix, value in {
            "_one": np.ones(depth, np.float32),
            "_zero": np.zeros(depth, np.float32),
            "_w": w,
            "_b": bias,
            "_rows": np.array([-1, depth], np.int64),
            "_sizes": np.array(sizes, np.int64),
        }.items():
            graph.initializer.append(numpy_helper.from_array(value, name + suffix))
        norm = helper.make_node("LayerNormalization", [x, name + "_one", name + "_zero"], [name + "_norm"], name=name)
        norm.attribute.extend(members[0][0].attribute)
        new = [
            norm,
            helper.make_node("Reshape", [name + "_norm", name + "_rows"], [name + "_rows_y"], name=name + "_rows"),
            helper.make_node("Gemm", [name + "_rows_y", name + "_w", name + "_b"], [name + "_y"], name=name + "_gemm"),
            helper.make_node(
                "Split",
                [name + "_y", name + "_sizes"],
                [f"{name}_part{i}" for i in range(len(parts))],
                name=name + "_split",
                axis=1,
            ),
        ]
        for i, (width, out) in enumerate(parts):
            graph.initializer.append(
                numpy_helper.from_array(np.array([-1, *shape[1:-1], width], np.int64), f"{name}_part{i}_shape")
            )
            new.append(
                helper.make_node("Reshape", [f"{name}_part{i}", f"{name}_part{i}_shape"], [out], name=f"{name}_part{i}")
            )
        first = min(nodes.index(m[0]) for m in members)
        nodes[first:first] = new
        replaced.update(id(n) for m in members for n in m[3])
        merged += len(members)
    set_nodes(graph, [n for n in nodes if id(n) not in replaced])
    drop_unused_initializers(graph)
    return model, merged


def batch_norm_into_gemms(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int]:
    """BatchNormalization(Reshape(Gemm(a) [+ Gemm(b)], [N, C, H, W])) with constant statistics  ==>  the Gemms with
    the normalisation folded into their weights and biases, the second one's output as the first one's bias input:
    Reshape(Gemm(a, W_a', C=Gemm(b, W_b', c'))). Returns (model, normalisations folded).

    Why: a DCGAN's first layer is fc(z) [+ a text condition's Linear], viewed as [N, C, 4, 4], batch-normalised:
    an Add and a BatchNormalization over the whole first feature map, where a Gemm adds its bias input for free
    (dcgan32_minilm.shapes at batch 64, 1 thread, CPU time: -0.15 ms of 18.4). fp32 only: in int8 the Gemm whose
    bias is computed stays float (+0.3 ms). Exact in real arithmetic: each output column j of the Gemms belongs
    to channel j // (H * W) after the reshape, and the normalisation is an affine per channel.
    """
    model = copy.deepcopy(model)
    graph = model.graph
    shapes = value_shapes(model)
    inits = {i.name: i for i in graph.initializer}
    consumers = consumers_of(graph)
    producers = {o: n for n in graph.node for o in n.output}
    graph_outputs = {o.name for o in graph.output}

    def plain_gemm(name):  # a Gemm with constant weights [K, M] (after transB) and bias, read once, else None
        node = producers.get(name)
        if node is None or node.op_type != "Gemm" or len(consumers.get(name, [])) != 1 or name in graph_outputs:
            return None
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if attrs.get("transA", 0) or attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0:
            return None
        if node.input[1] not in inits or (len(node.input) > 2 and node.input[2] and node.input[2] not in inits):
            return None
        return node

    def bias_of(node) -> np.ndarray | float | None:  # a Gemm's constant C as [M] or a scalar; None if a matrix
        if len(node.input) < 3 or not node.input[2]:
            return 0.0
        c = numpy_helper.to_array(inits[node.input[2]])
        outputs = inits[node.input[1]].dims[0 if transposed(node) else 1]
        if c.size == 1:
            return float(c.reshape(()))
        return c.reshape(-1) if c.size == outputs and c.shape[-1] == outputs else None

    def transposed(node) -> bool:
        return any(a.name == "transB" and a.i for a in node.attribute)

    def folded(node, scale, bias):  # Gemm `node` with its output columns scaled and `bias` as its (constant) C
        w = numpy_helper.to_array(inits[node.input[1]])
        w = w * scale[:, None] if transposed(node) else w * scale[None, :]
        name = (node.name or node.output[0]).replace("/", "_") + "_normalised"
        graph.initializer.append(numpy_helper.from_array(w.astype(np.float32), name + "_w"))
        graph.initializer.append(
            numpy_helper.from_array(np.broadcast_to(bias, scale.shape).astype(np.float32), name + "_b")
        )
        node.input[:] = [node.input[0], name + "_w", name + "_b"]

    nodes, folded_count, dropped = list(graph.node), 0, set()
    for bn in [n for n in graph.node if n.op_type == "BatchNormalization"]:
        reshape = producers.get(bn.input[0])
        if len(bn.output) != 1 or any(i not in inits for i in bn.input[1:5]) or reshape is None:
            continue
        shape = shapes.get(bn.input[0])
        if reshape.op_type != "Reshape" or len(consumers.get(reshape.output[0], [])) != 1 or shape is None:
            continue
        source = producers.get(reshape.input[0])
        gemms = [plain_gemm(reshape.input[0])] if source is not None and source.op_type == "Gemm" else []
        if source is not None and source.op_type == "Add" and len(consumers.get(source.output[0], [])) == 1:
            gemms = [plain_gemm(i) for i in source.input]
        flat = shapes.get(reshape.input[0])
        if not gemms or None in gemms or len(shape) < 2 or flat is None or len(flat) != 2:
            continue
        if any(a.name == "training_mode" and a.i for a in bn.attribute) or any(bias_of(g) is None for g in gemms):
            continue
        eps = next((a.f for a in bn.attribute if a.name == "epsilon"), 1e-5)
        gamma, beta, mean, var = (numpy_helper.to_array(inits[i]).astype(np.float64) for i in bn.input[1:5])
        per_channel = int(np.prod(shape[2:]))
        if flat[1] != shape[1] * per_channel:
            continue
        scale = np.repeat(gamma / np.sqrt(var + eps), per_channel)
        shift = np.repeat(beta - mean * gamma / np.sqrt(var + eps), per_channel)
        first, *rest = gemms
        if rest:  # the second Gemm computes the first one's bias input: Gemm(a, W_a, C=Gemm(b, W_b, c_b + c_a))
            (second,) = rest
            folded(second, scale, (bias_of(second) + bias_of(first)) * scale + shift)
            folded(first, scale, 0.0)
            first.input[2] = second.output[0]
            dropped.add(id(source))
        else:
            folded(first, scale, bias_of(first) * scale + shift)
        reshape.input[0] = first.output[0]
        reshape.output[0] = bn.output[0]
        dropped.add(id(bn))
        folded_count += 1
    # the second Gemm must run before the first, which now reads it
    ordered = [n for n in nodes if id(n) not in dropped]
    set_nodes(graph, topologically_sorted(ordered, graph))
    drop_unused_initializers(graph)
    return model, folded_count


def topologically_sorted(nodes: list, graph: onnx.GraphProto) -> list:
    """`nodes` in an order where each runs after the producers of its inputs (stable: graph order where it can)."""
    available = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    ordered, pending = [], list(nodes)
    while pending:
        for k, node in enumerate(pending):
            if all(i in available for i in node.input):
                ordered.append(pending.pop(k))
                available.update(node.output)
                break
        else:
            raise ValueError("the graph has a cycle or reads an undefined value")
    return ordered


def skip_biases_to_first_level(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int]:
    """StyleGAN2's RGB skip path, img_k = toRGB_k(x) + b_k + Resize(img_(k-1)): every level's bias b_k moves to
    the first level's, b_0 + b_1 + ... + b_k added once on the smallest image. Returns (model, biases moved).

    Why: each level's bias Add is a pass over that level's image, and in int8, where the RGB path runs
    channels-last, a [N, H, W, 3] + [1, 1, 1, 3] broadcast is slow: stylegan2_64.shapes int8 at batch 64 spent
    3.5% of its time in those Adds (the 64 px one 3.3 ms, 1 thread). Exact in real arithmetic: a linear or
    nearest Resize that keeps N and C maps a per-channel constant to itself (its weights sum to one), so
    Resize(img + b) = Resize(img) + b; float results differ by rounding only.
    """
    model = copy.deepcopy(model)
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    producer = {o: n for n in graph.node for o in n.output}
    consumers = consumers_of(graph)
    graph_outputs = {o.name for o in graph.output}

    def only_reader(name, node):  # `node` is the one reader of value `name`, which is not a graph output
        return name not in graph_outputs and [id(u) for u in consumers.get(name, [])] == [id(node)]

    def channel_bias(node):  # (x, b) for Add(x, b) with b a constant [1, C, 1, 1] (either order), else None
        if node is None or node.op_type != "Add" or len(node.input) != 2:
            return None
        for x, b in (node.input, list(reversed(node.input))):
            if b in inits and x not in inits:
                dims = list(inits[b].dims)
                if len(dims) == 4 and dims[0] == 1 and dims[2:] == [1, 1]:
                    return x, b
        return None

    def constant_preserving_resize(node):  # Resize over H and W only, linear or nearest, no extrapolation
        if node is None or node.op_type != "Resize" or len(node.input) < 3:
            return False
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if attrs.get("mode", b"nearest") not in (b"linear", b"nearest") or attrs.get("antialias", 0):
            return False
        if attrs.get("coordinate_transformation_mode") == b"tf_crop_and_resize" or len(node.input) > 3:
            return False
        scales = node.input[2]
        return scales in inits and list(numpy_helper.to_array(inits[scales])[:2]) == [1.0, 1.0]

    def previous_level(node):  # for a skip sum Add(a, Resize(p)): (the other summand, p), else None
        if node is None or node.op_type != "Add" or len(node.input) != 2:
            return None
        for a, r in (node.input, list(reversed(node.input))):
            resize = producer.get(r)
            if constant_preserving_resize(resize) and only_reader(r, node) and only_reader(resize.input[0], resize):
                return a, resize.input[0]
        return None

    def root_bias(name):  # the first level's bias Add, reached through skip sums and their Resizes
        node = producer.get(name)
        for _ in range(64):  # levels; a bound, not a count the graph could reach
            step = previous_level(node)
            if step is None:
                return node if channel_bias(node) else None
            node = producer.get(step[1])
        return None

    bypass = {}  # output of a dropped bias Add -> its input
    totals = {}  # id(first level's bias Add) -> (that node, its input x, the summed bias)
    for node in graph.node:
        step = previous_level(node)
        if step is None:
            continue
        summand, previous = step
        found, root = channel_bias(producer.get(summand)), root_bias(previous)
        if not found or root is None or not only_reader(summand, node):
            continue
        x, b = found
        root_x, root_b = channel_bias(root)
        _, _, total = totals.get(id(root), (root, root_x, numpy_helper.to_array(inits[root_b])))
        bias = numpy_helper.to_array(inits[b])
        if bias.shape != total.shape:  # biases of different channel counts
            continue
        totals[id(root)] = (root, root_x, (total + bias).astype(total.dtype))
        bypass[summand] = x
    for root, root_x, total in totals.values():
        name = f"{root.name or root.output[0]}_biases".replace("/", "_")
        graph.initializer.append(numpy_helper.from_array(total, name))
        root.input[:] = [root_x, name]
    if bypass:
        nodes = [n for n in graph.node if not (n.output and n.output[0] in bypass)]
        for n in nodes:
            n.input[:] = [bypass.get(i, i) for i in n.input]
        set_nodes(graph, nodes)
        drop_unused_initializers(graph)
    return model, len(bypass)
