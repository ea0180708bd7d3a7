"""fp32 packages carry the ConvTranspose -> phase-Conv rewrite (exact, faster on ONNX Runtime's CPU);
export's parity check against PyTorch ran on the rewritten graph."""

from __future__ import annotations

import warnings

import onnx
import pytest


def test_fp32_package_has_no_conv_transpose(tmp_path):
    from zoo.exporting.testing import cached_export

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pkg, _ = cached_export(tmp_path, "dcgan32")
    nodes = onnx.load(str(pkg / "generator.onnx")).graph.node
    assert "ConvTranspose" not in {n.op_type for n in nodes} and "DepthToSpace" in {n.op_type for n in nodes}
    assert any(n.name.endswith("_groups_11") for n in nodes)  # the last 3-channel conv runs before the interleave
    assert any(n.name.endswith("_channels_last_rows") for n in nodes)  # the inner interleaves run channels-last


@pytest.mark.slow  # slow: 9 s
def test_stylegan2_upsample_gets_a_blocked_input(tmp_path):
    """The identity MaxPool before each modulated upsample: inserted where channels allow, same images."""
    import numpy as np
    import onnxruntime as ort

    from zoo.exporting.rewrite import upsample_after_identity_pool
    from zoo.exporting.testing import cached_export

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pkg, _ = cached_export(tmp_path, "stylegan2_32")
    model = onnx.load(str(pkg / "generator.onnx"))
    blocked = [n for n in model.graph.node if n.op_type == "MaxPool" and n.name.endswith("_blocked")]
    assert blocked, "the fp32 export applies the rewrite"
    assert any(n.name.endswith("_folded0") for n in model.graph.node), "and folds the elementwise chains"
    from zoo.exporting.rewrite import thin_modulated_conv_to_matmul

    # and its toRGB layers are batched MatMuls (the export's parity check against PyTorch ran on them)
    assert any(n.op_type == "MatMul" and n.name.endswith("_as_matmul") for n in model.graph.node)
    assert thin_modulated_conv_to_matmul(model)[1] == 0
    again, count = upsample_after_identity_pool(model)
    assert count == 0  # a Resize fed by the pool is left alone, so the rewrite is idempotent
    plain = model.__class__()
    plain.CopyFrom(model)
    for n in list(plain.graph.node):  # undo it: each Resize reads the identity pool's input again
        if n.name.endswith("_blocked"):
            for user in plain.graph.node:
                if user.op_type == "Resize" and user.input[0] == n.output[0]:
                    user.input[0] = n.input[0]
            plain.graph.node.remove(n)
    feeds = {
        "z": np.random.default_rng(0).standard_normal((4, 128), dtype=np.float32),
        "truncation": np.full(4, 0.7, np.float32),
    }
    a = ort.InferenceSession(model.SerializeToString()).run(None, feeds)[0].astype(int)
    b = ort.InferenceSession(plain.SerializeToString()).run(None, feeds)[0].astype(int)
    assert np.abs(a - b).max() <= 1


def _chain_model(computed_noise=False):
    """x -> Conv -> Mul(demod) -> Add(noise) -> Add(bias) -> LeakyRelu -> Mul(gain) -> {Mul(s1), Mul(s2)}:
    the shape of a StyleGAN2 layer feeding the next conv and ToRGB. `computed_noise`: the noise as
    Mul(noise_const, strength) of two constants, as the exporter sometimes leaves it."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    c = 4
    inits = [
        numpy_helper.from_array(rng.standard_normal((c, c, 3, 3)).astype(np.float32), "w"),
        numpy_helper.from_array(rng.standard_normal((1, 1, 6, 6)).astype(np.float32), "noise"),
        numpy_helper.from_array(rng.standard_normal((1, c, 1, 1)).astype(np.float32), "bias"),
        numpy_helper.from_array(np.array(1.4142135, np.float32), "gain"),
    ]
    nodes = []
    if computed_noise:
        inits[1].name = "noise_const"
        inits.append(numpy_helper.from_array(np.array(0.3, np.float32), "strength"))
        nodes.append(helper.make_node("Mul", ["noise_const", "strength"], ["noise"]))
    nodes += [
        helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1]),
        helper.make_node("Mul", ["y", "d"], ["yd"]),
        helper.make_node("Add", ["yd", "noise"], ["yn"]),
        helper.make_node("Add", ["bias", "yn"], ["yb"]),  # constant first: either order folds
        helper.make_node("LeakyRelu", ["yb"], ["a"], alpha=0.2),
        helper.make_node("Mul", ["a", "gain"], ["g"]),
        helper.make_node("Mul", ["g", "s1"], ["out1"]),
        helper.make_node("Mul", ["s2", "g"], ["out2"]),
    ]
    small = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["batch", c, 1, 1]) for n in ("d", "s1", "s2")]
    graph = helper.make_graph(
        nodes,
        "chain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", c, 6, 6]), *small],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["batch", c, 6, 6]) for n in ("out1", "out2")],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)


@pytest.mark.parametrize("computed_noise", [False, True])
def test_elementwise_chains_fold_to_fewer_full_size_passes(computed_noise):
    """Noise + bias become one Add (also when the noise is computed from two constants); the gain moves onto
    both consumers' small per-sample scales; same outputs."""
    import numpy as np
    import onnxruntime as ort

    from zoo.exporting.rewrite import fold_elementwise_chains

    model = _chain_model(computed_noise)
    folded, removed = fold_elementwise_chains(model)
    assert removed == 2 and "noise_const" not in {i for n in folded.graph.node for i in n.input}
    onnx.checker.check_model(folded, full_check=True)
    full_size = [n for n in folded.graph.node if n.op_type in ("Add", "Mul") and not n.input[0].startswith("s")]
    assert sum(n.op_type == "Add" for n in full_size) == 1
    assert {"gain"} <= {i for n in folded.graph.node if n.op_type == "Mul" for i in n.input}  # on s1, s2 now
    assert fold_elementwise_chains(folded)[1] == 0  # idempotent: no ping-pong between the Muls
    rng = np.random.default_rng(1)
    feeds = {k: rng.standard_normal((3, 4, 1, 1)).astype(np.float32) for k in ("d", "s1", "s2")}
    feeds["x"] = rng.standard_normal((3, 4, 6, 6)).astype(np.float32)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # judge the rewrite, not ORT's
    a = ort.InferenceSession(model.SerializeToString(), so).run(None, feeds)
    b = ort.InferenceSession(folded.SerializeToString(), so).run(None, feeds)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-5)


def test_elementwise_fold_leaves_shared_or_output_values_alone():
    """A Mul whose result is also a graph output, or an Add whose partner is computed, is not touched."""
    from onnx import TensorProto, helper

    from zoo.exporting.rewrite import fold_elementwise_chains

    model = _chain_model()
    model.graph.output.append(helper.make_tensor_value_info("g", TensorProto.FLOAT, ["batch", 4, 6, 6]))
    model.graph.node[3].input[0] = "x"  # Add(x, yn): the partner is not a constant
    _, removed = fold_elementwise_chains(model)
    assert removed == 0


def _depth_to_space_conv(cout=3, stride=1, mode="DCR", pad=1):
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    c = 5
    inits = [
        numpy_helper.from_array(rng.standard_normal((cout, c, 3, 3)).astype(np.float32), "w"),
        numpy_helper.from_array(rng.standard_normal(cout).astype(np.float32), "b"),
    ]
    nodes = [
        helper.make_node("DepthToSpace", ["p"], ["u"], blocksize=2, mode=mode),
        helper.make_node("Conv", ["u", "w", "b"], ["y"], pads=[pad] * 4, strides=[stride, stride]),
        helper.make_node("Tanh", ["y"], ["out"]),
    ]
    graph = helper.make_graph(
        nodes,
        "d2s_conv",
        [helper.make_tensor_value_info("p", TensorProto.FLOAT, ["batch", 4 * c, 6, 7])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["batch", cout, None, None])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)


def test_conv_after_depth_to_space_runs_on_the_phases_exactly():
    """The conv moves before the interleave: every output phase from the small tensor through one 2 x 2 window (the
    3 x 3 conv's taps on each input phase), sliced at the phase's shift; same values, edges included."""
    import numpy as np
    import onnxruntime as ort

    from zoo.exporting.rewrite import conv_after_depth_to_space

    model = _depth_to_space_conv()
    moved, count = conv_after_depth_to_space(model)
    ops = [n.op_type for n in moved.graph.node]
    assert count == 1 and ops == ["Conv", *["Slice"] * 4, "Concat", "DepthToSpace", "Tanh"]
    assert next(a.ints for a in moved.graph.node[0].attribute if a.name == "kernel_shape") == [2, 2]
    onnx.checker.check_model(moved, full_check=True)
    assert conv_after_depth_to_space(moved)[1] == 0
    p = np.random.default_rng(1).standard_normal((2, 20, 6, 7)).astype(np.float32)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    a = ort.InferenceSession(model.SerializeToString(), so).run(None, {"p": p})[0]
    b = ort.InferenceSession(moved.SerializeToString(), so).run(None, {"p": p})[0]
    assert a.shape == b.shape == (2, 3, 12, 14)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_conv_after_depth_to_space_leaves_other_convs_alone():
    """Wide outputs (the phases would not fit one block), strided convs and CRD order keep their graph."""
    from zoo.exporting.rewrite import conv_after_depth_to_space

    for model in (
        _depth_to_space_conv(cout=8),
        _depth_to_space_conv(stride=2),
        _depth_to_space_conv(mode="CRD"),
        _depth_to_space_conv(pad=0),  # a "valid" conv's output is not an interleave of phases
    ):
        assert conv_after_depth_to_space(model)[1] == 0


def _run_both(model, rewritten, feeds):
    import onnxruntime as ort

    outputs = []
    for m in (model, rewritten):
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        outputs.append(ort.InferenceSession(m.SerializeToString(), so).run(None, feeds)[0])
    return outputs


def test_interleave_channels_last_is_exact_and_only_before_convs():
    """DepthToSpace read by convolutions becomes the channels-last interleave (same values, ONNX Runtime's
    optimisations on and off); one read by anything else (here Tanh) stays."""
    import numpy as np
    import onnxruntime as ort

    from zoo.exporting.rewrite import interleave_channels_last

    model = _depth_to_space_conv()
    moved, count = interleave_channels_last(model)
    assert count == 1 and "DepthToSpace" not in {n.op_type for n in moved.graph.node}
    onnx.checker.check_model(moved, full_check=True)
    assert interleave_channels_last(moved)[1] == 0
    feeds = {"p": np.random.default_rng(2).standard_normal((3, 20, 6, 7)).astype(np.float32)}
    a, b = _run_both(model, moved, feeds)
    np.testing.assert_array_equal(a, b)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    np.testing.assert_allclose(ort.InferenceSession(moved.SerializeToString(), so).run(None, feeds)[0], a, atol=1e-5)

    from onnx import helper

    tail = helper.make_model(
        helper.make_graph(
            [helper.make_node("DepthToSpace", ["p"], ["u"], blocksize=2), helper.make_node("Tanh", ["u"], ["out"])],
            "d2s_tanh",
            [helper.make_tensor_value_info("p", onnx.TensorProto.FLOAT, ["batch", 8, 3, 3])],
            [helper.make_tensor_value_info("out", onnx.TensorProto.FLOAT, ["batch", 2, 6, 6])],
        ),
        opset_imports=[helper.make_opsetid("", 17)],
        ir_version=9,
    )
    assert interleave_channels_last(tail)[1] == 0


def test_film_and_relu_move_before_the_interleave_so_the_last_conv_can_follow():
    """DepthToSpace -> Mul(per-sample scale) -> Add(shift) -> Relu -> Conv: the three ops run on the phase tensor
    (operands tiled over the phases), then the conv moves too; same outputs."""
    import numpy as np
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    from zoo.exporting.rewrite import conv_after_depth_to_space, elementwise_before_depth_to_space

    rng = np.random.default_rng(0)
    c = 4
    inits = [
        numpy_helper.from_array(rng.standard_normal((1, c, 1, 1)).astype(np.float32), "shift"),
        numpy_helper.from_array(rng.standard_normal((3, c, 3, 3)).astype(np.float32), "w"),
    ]
    nodes = [
        helper.make_node("DepthToSpace", ["p"], ["u"], blocksize=2, mode="DCR"),
        helper.make_node("Mul", ["u", "scale"], ["m"]),
        helper.make_node("Add", ["shift", "m"], ["a"]),
        helper.make_node("Relu", ["a"], ["r"]),
        helper.make_node("Conv", ["r", "w"], ["out"], pads=[1, 1, 1, 1]),
    ]
    graph = helper.make_graph(
        nodes,
        "film",
        [
            helper.make_tensor_value_info("p", TensorProto.FLOAT, ["batch", 4 * c, 5, 5]),
            helper.make_tensor_value_info("scale", TensorProto.FLOAT, ["batch", c, 1, 1]),
        ],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["batch", 3, 10, 10])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    moved, count = elementwise_before_depth_to_space(model)
    assert count == 3 and elementwise_before_depth_to_space(moved)[1] == 0
    final, convs = conv_after_depth_to_space(moved)
    assert convs == 1 and [n.op_type for n in final.graph.node][-1] == "DepthToSpace"
    onnx.checker.check_model(final, full_check=True)
    feeds = {
        "p": rng.standard_normal((2, 4 * c, 5, 5)).astype(np.float32),
        "scale": rng.standard_normal((2, c, 1, 1)).astype(np.float32),
    }
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    a = ort.InferenceSession(model.SerializeToString(), so).run(None, feeds)[0]
    b = ort.InferenceSession(final.SerializeToString(), so).run(None, feeds)[0]
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def _to_rgb_model(cout=3, bias=True, shared=False):
    """x -> Mul(s) -> 1x1 Conv with `cout` outputs: a StyleGAN2 toRGB layer (s per sample and channel)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    c = 8
    inits = [numpy_helper.from_array(rng.standard_normal((cout, c, 1, 1)).astype(np.float32), "w")]
    inputs = ["xs", "w"]
    if bias:
        inits.append(numpy_helper.from_array(rng.standard_normal(cout).astype(np.float32), "b"))
        inputs.append("b")
    nodes = [helper.make_node("Mul", ["x", "s"], ["xs"]), helper.make_node("Conv", inputs, ["rgb"])]
    outputs = [helper.make_tensor_value_info("rgb", TensorProto.FLOAT, ["batch", cout, 5, 6])]
    if shared:  # the scaled tensor has another reader
        nodes.append(helper.make_node("Relu", ["xs"], ["other"]))
        outputs.append(helper.make_tensor_value_info("other", TensorProto.FLOAT, ["batch", c, 5, 6]))
    graph = helper.make_graph(
        nodes,
        "to_rgb",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", c, 5, 6]),
            helper.make_tensor_value_info("s", TensorProto.FLOAT, ["batch", c, 1, 1]),
        ],
        outputs,
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)


@pytest.mark.parametrize(
    "cout,bias,channels_last", [(3, True, False), (1, False, False), (3, True, True), (1, True, True)]
)
def test_thin_modulated_conv_becomes_a_batched_matmul_exactly(cout, bias, channels_last):
    """toRGB: Conv1x1(x * s) -> MatMul(s * W, x) (or x as rows @ (s * W)^T, channels-last): no Conv and no
    full-size Mul left, same outputs."""
    import numpy as np
    import onnxruntime as ort

    from zoo.exporting.rewrite import thin_modulated_conv_to_matmul

    model = _to_rgb_model(cout, bias)
    rewritten, count = thin_modulated_conv_to_matmul(model, channels_last=channels_last)
    assert count == 1
    onnx.checker.check_model(rewritten, full_check=True)
    transposes = [n for n in rewritten.graph.node if n.op_type == "Transpose"]
    assert len(transposes) == (0 if not channels_last else 1 if cout == 1 else 2)
    ops = [n.op_type for n in rewritten.graph.node]
    assert "Conv" not in ops and "MatMul" in ops
    assert not any(n.op_type == "Mul" and "x" in n.input for n in rewritten.graph.node)
    assert thin_modulated_conv_to_matmul(rewritten)[1] == 0
    rng = np.random.default_rng(1)
    feeds = {"x": rng.standard_normal((3, 8, 5, 6)).astype(np.float32)}
    feeds["s"] = rng.standard_normal((3, 8, 1, 1)).astype(np.float32)  # negative styles too
    a = ort.InferenceSession(model.SerializeToString()).run(None, feeds)[0]
    b = ort.InferenceSession(rewritten.SerializeToString()).run(None, feeds)[0]
    assert a.shape == b.shape == (3, cout, 5, 6)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_channel_scales_channels_last_is_exact():
    """Mul(x, s [N, C, 1, 1]) as rows of W*C times the tiled scales: the same values; constant scales and
    per-channel-only shapes stay as they are."""
    import numpy as np
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    from zoo.exporting.rewrite import channel_scales_channels_last

    c, h, w = 6, 5, 7
    graph = helper.make_graph(
        [
            helper.make_node("Mul", ["s", "x"], ["xs"]),  # the scale first: either order is found
            helper.make_node("Mul", ["xs", "k"], ["out"]),  # a constant: left alone
        ],
        "scales",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", c, h, w]),
            helper.make_tensor_value_info("s", TensorProto.FLOAT, ["batch", c, 1, 1]),
        ],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["batch", c, h, w])],
        [numpy_helper.from_array(np.full((1, c, 1, 1), 0.5, np.float32), "k")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    rows, count = channel_scales_channels_last(model)
    assert count == 1 and channel_scales_channels_last(rows)[1] == 0
    onnx.checker.check_model(rows, full_check=True)
    rng = np.random.default_rng(3)
    feeds = {"x": rng.standard_normal((4, c, h, w)).astype(np.float32)}
    feeds["s"] = rng.standard_normal((4, c, 1, 1)).astype(np.float32)
    a, b = _run_both(model, rows, feeds)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ort.InferenceSession(rows.SerializeToString()).run(None, feeds)[0], a)


def test_thin_modulated_conv_rewrite_leaves_other_convs_alone():
    """Too many output channels, or a scaled tensor read elsewhere too: left as it is."""
    from zoo.exporting.rewrite import thin_modulated_conv_to_matmul

    assert thin_modulated_conv_to_matmul(_to_rgb_model(cout=8))[1] == 0
    assert thin_modulated_conv_to_matmul(_to_rgb_model(shared=True))[1] == 0


def _pack_unpack_model(ends_of_last=10**9):
    """Concat([a [N,3], b [N,4], c [N,2]], axis 1) -> Slice [0,3) -> Relu; Slice [3,7); Slice [7,end) -> Neg."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    def ints(name, values):
        return numpy_helper.from_array(np.array(values, np.int64), name)

    inits = [ints("s0", [0]), ints("e0", [3]), ints("s1", [3]), ints("e1", [7]), ints("s2", [7])]
    inits += [ints("e2", [ends_of_last]), ints("ax", [1]), ints("ax_neg", [-1]), ints("e_mid", [5])]
    nodes = [
        helper.make_node("Concat", ["a", "b", "c"], ["cat"], axis=1),
        helper.make_node("Slice", ["cat", "s0", "e0", "ax"], ["pa"]),
        helper.make_node("Slice", ["cat", "s1", "e1", "ax_neg"], ["pb"]),
        helper.make_node("Slice", ["cat", "s2", "e2", "ax"], ["pc"]),
        helper.make_node("Slice", ["cat", "s1", "e_mid", "ax"], ["part"]),  # half of b: stays a Slice
        helper.make_node("Relu", ["pa"], ["ra"]),
        helper.make_node("Neg", ["pc"], ["nc"]),
    ]
    dims = {"a": 3, "b": 4, "c": 2}
    graph = helper.make_graph(
        nodes,
        "pack_unpack",
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, ["batch", d]) for k, d in dims.items()],
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, None) for k in ("ra", "pb", "nc", "part")],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)


def test_slices_of_concats_read_the_pieces_exactly():
    """A Slice that takes one whole input of the Concat it reads becomes that input (negative axis and an end
    past the size included); a Slice of part of a piece stays, and so does the Concat it needs."""
    import numpy as np
    import onnxruntime as ort

    from zoo.exporting.rewrite import slices_of_concats

    model = _pack_unpack_model()
    rewritten, count = slices_of_concats(model)
    assert count == 2  # pa and pc; pb is a graph output, which keeps its name
    assert [n.op_type for n in rewritten.graph.node].count("Slice") == 2
    rng = np.random.default_rng(0)
    feeds = {k: rng.standard_normal((2, d)).astype(np.float32) for k, d in {"a": 3, "b": 4, "c": 2}.items()}
    want = ort.InferenceSession(model.SerializeToString()).run(None, feeds)
    got = ort.InferenceSession(rewritten.SerializeToString()).run(None, feeds)
    assert all(np.array_equal(w, g) for w, g in zip(want, got))
    model.graph.node[4].input[1] = "s0"  # part = cat[:, 0:5] spans two pieces: stays; the Concat too
    rewritten, _ = slices_of_concats(model)
    assert "Concat" in {n.op_type for n in rewritten.graph.node}


def test_slices_of_concats_drop_an_unused_concat():
    from zoo.exporting.rewrite import slices_of_concats

    model = _pack_unpack_model()
    del model.graph.output[1:]  # only ra: pa's Slice goes, then nothing reads the Concat
    for n in [n for n in model.graph.node if n.output[0] in ("pb", "pc", "part", "nc")]:
        model.graph.node.remove(n)
    rewritten, count = slices_of_concats(model)
    assert count == 1 and [n.op_type for n in rewritten.graph.node] == ["Relu"]
    assert rewritten.graph.node[0].input[0] == "a"


@pytest.mark.parametrize("cout", [1, 3])
def test_thin_conv_as_phase_groups_is_exact(cout):
    """The last conv as one small conv per input phase, summed: same values, edges included, at every ONNX
    Runtime optimisation level (the blocked kernels and the conv + sum fusion run at ALL)."""
    import numpy as np
    import onnxruntime as ort

    from zoo.exporting.rewrite import thin_conv_as_phase_groups

    model = _depth_to_space_conv(cout=cout)
    groups, count = thin_conv_as_phase_groups(model)
    ops = [n.op_type for n in groups.graph.node]
    assert count == 1 and ops == ["Split"] + ["Conv", "Conv", "Add", "Conv", "Add", "Conv", "Add"][:7] + [
        "DepthToSpace",
        "Tanh",
    ]
    onnx.checker.check_model(groups, full_check=True)
    assert thin_conv_as_phase_groups(groups)[1] == 0
    feeds = {"p": np.random.default_rng(1).standard_normal((2, 20, 6, 7)).astype(np.float32)}
    a, b = _run_both(model, groups, feeds)
    assert a.shape == b.shape == (2, cout, 12, 14)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    np.testing.assert_allclose(ort.InferenceSession(groups.SerializeToString(), so).run(None, feeds)[0], a, atol=1e-5)


def test_thin_conv_as_phase_groups_reads_the_phase_convs_directly():
    """When the phase tensor is the Concat of the phase convolutions, each group conv reads one of them: no Split."""
    import numpy as np
    from onnx import helper

    from zoo.exporting.rewrite import thin_conv_as_phase_groups

    model = _depth_to_space_conv(cout=3)
    graph = model.graph
    graph.input[0].name = "q"
    pieces = [f"q{i}" for i in range(4)]
    graph.node.insert(0, helper.make_node("Split", ["q"], pieces, axis=1))
    graph.node.insert(1, helper.make_node("Concat", pieces, ["p"], axis=1))
    groups, count = thin_conv_as_phase_groups(model)
    convs = [n for n in groups.graph.node if n.op_type == "Conv"]
    assert count == 1 and [c.input[0] for c in convs] == pieces
    feeds = {"q": np.random.default_rng(2).standard_normal((2, 20, 6, 7)).astype(np.float32)}
    a, b = _run_both(model, groups, feeds)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_thin_conv_as_phase_groups_leaves_other_convs_alone():
    from zoo.exporting.rewrite import thin_conv_as_phase_groups

    for model in (
        _depth_to_space_conv(cout=8),
        _depth_to_space_conv(stride=2),
        _depth_to_space_conv(mode="CRD"),
        _depth_to_space_conv(pad=0),
    ):
        assert thin_conv_as_phase_groups(model)[1] == 0


def _concat_film_model(periodic=True):
    """Concat of 4 pieces [N, 3, 5, 5] -> Mul(Tile(s [N, 3, 1, 1], 4)) -> Add(constant [1, 12, 1, 1]) -> Relu."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    shift = np.tile(np.array([0.5, -1.0, 2.0], np.float32).reshape(1, 3, 1, 1), (1, 4, 1, 1))
    if not periodic:
        shift[0, 5] = 7.0
    inits = [
        numpy_helper.from_array(np.array([1, 4, 1, 1], np.int64), "repeats"),
        numpy_helper.from_array(shift, "shift"),
    ]
    pieces = [f"x{i}" for i in range(4)]
    nodes = [
        helper.make_node("Concat", pieces, ["cat"], axis=1),
        helper.make_node("Tile", ["s", "repeats"], ["s_tiled"]),
        helper.make_node("Mul", ["cat", "s_tiled"], ["scaled"]),
        helper.make_node("Add", ["shift", "scaled"], ["shifted"]),
        helper.make_node("Relu", ["shifted"], ["out"]),
    ]
    inputs = [helper.make_tensor_value_info(p, TensorProto.FLOAT, ["batch", 3, 5, 5]) for p in pieces]
    inputs.append(helper.make_tensor_value_info("s", TensorProto.FLOAT, ["batch", 3, 1, 1]))
    graph = helper.make_graph(
        nodes, "concat_film", inputs, [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)], inits
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)


def test_elementwise_before_concat_moves_film_and_relu_onto_the_pieces_exactly():
    import numpy as np
    import onnxruntime as ort

    from zoo.exporting.rewrite import elementwise_before_concat

    model = _concat_film_model()
    moved_model, moved = elementwise_before_concat(model)
    ops = [n.op_type for n in moved_model.graph.node]
    assert moved == 3 and ops == ["Mul"] * 4 + ["Add"] * 4 + ["Relu"] * 4 + ["Concat"]  # the Tile went too
    rng = np.random.default_rng(0)
    feeds = {f"x{i}": rng.standard_normal((2, 3, 5, 5)).astype(np.float32) for i in range(4)}
    feeds["s"] = rng.standard_normal((2, 3, 1, 1)).astype(np.float32)
    want = ort.InferenceSession(model.SerializeToString()).run(None, feeds)[0]
    got = ort.InferenceSession(moved_model.SerializeToString()).run(None, feeds)[0]
    assert np.array_equal(want, got)


def test_elementwise_before_concat_needs_one_value_per_piece():
    """A constant that differs between the pieces is no per-piece operand: the Add (and the Relu after it) stay."""
    from zoo.exporting.rewrite import elementwise_before_concat

    moved_model, moved = elementwise_before_concat(_concat_film_model(periodic=False))
    assert moved == 1 and [n.op_type for n in moved_model.graph.node].count("Concat") == 1
    assert [n.op_type for n in moved_model.graph.node][-2:] == ["Add", "Relu"]


def _affine_conv_model(pads=(0, 0, 0, 0), kernel=1):
    """x [N, 4, 5, 5] * g [4, 1, 1] + b [1, 4, 1, 1] -> Conv(kernel, pads) to 3 channels, with a bias."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(3)
    inits = [
        numpy_helper.from_array(rng.standard_normal((4, 1, 1)).astype(np.float32), "g"),
        numpy_helper.from_array(rng.standard_normal((1, 4, 1, 1)).astype(np.float32), "b"),
        numpy_helper.from_array(rng.standard_normal((3, 4, kernel, kernel)).astype(np.float32), "w"),
        numpy_helper.from_array(rng.standard_normal(3).astype(np.float32), "bias"),
    ]
    nodes = [
        helper.make_node("Mul", ["x", "g"], ["scaled"]),
        helper.make_node("Add", ["scaled", "b"], ["shifted"]),
        helper.make_node("Conv", ["shifted", "w", "bias"], ["y"], kernel_shape=[kernel, kernel], pads=list(pads)),
    ]
    graph = helper.make_graph(
        nodes,
        "affine_conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4, 5, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)


@pytest.mark.parametrize("kernel", [1, 3])
def test_channel_affine_folds_into_an_unpadded_conv_exactly(kernel):
    """A GroupNorm's per-channel scale and shift before the attention's 1x1 query conv go into its weights."""
    import numpy as np

    from zoo.exporting.rewrite import channel_affine_into_conv

    model = _affine_conv_model(kernel=kernel)
    folded, count = channel_affine_into_conv(model)
    assert count == 1 and [n.op_type for n in folded.graph.node] == ["Conv"]
    feeds = {"x": np.random.default_rng(4).standard_normal((2, 4, 5, 5)).astype(np.float32)}
    a, b = _run_both(model, folded, feeds)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_channel_affine_stays_before_a_padded_conv():
    """With zero padding the shift would reach the padded border too: not folded."""
    from zoo.exporting.rewrite import channel_affine_into_conv

    assert channel_affine_into_conv(_affine_conv_model(pads=(1, 1, 1, 1), kernel=3))[1] == 0


def _film_interleave_model(cout):
    """DepthToSpace -> Mul(per-sample scale) -> Relu -> 3x3 Conv with `cout` outputs."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    c = 4
    w = np.random.default_rng(0).standard_normal((cout, c, 3, 3)).astype(np.float32)
    nodes = [
        helper.make_node("DepthToSpace", ["p"], ["u"], blocksize=2, mode="DCR"),
        helper.make_node("Mul", ["u", "scale"], ["m"]),
        helper.make_node("Relu", ["m"], ["r"]),
        helper.make_node("Conv", ["r", "w"], ["out"], pads=[1, 1, 1, 1]),
    ]
    graph = helper.make_graph(
        nodes,
        "film_conv",
        [
            helper.make_tensor_value_info("p", TensorProto.FLOAT, ["batch", 4 * c, 5, 5]),
            helper.make_tensor_value_info("scale", TensorProto.FLOAT, ["batch", c, 1, 1]),
        ],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["batch", cout, 10, 10])],
        [numpy_helper.from_array(w, "w")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)


def test_film_moves_before_the_interleave_only_on_the_way_to_a_thin_conv():
    """fp32 keeps a FiLM after an interleave unless a conv with at most a block of phase outputs follows it."""
    import numpy as np

    from zoo.exporting.rewrite import elementwise_before_depth_to_space, interleave_channels_last

    wide, thin = _film_interleave_model(cout=8), _film_interleave_model(cout=3)  # 8 * 4 phases > 16: not thin
    assert elementwise_before_depth_to_space(wide, only_before_thin_convs=True)[1] == 0
    assert elementwise_before_depth_to_space(wide)[1] == 2  # without the restriction (int8) it moves anyway
    assert elementwise_before_depth_to_space(thin, only_before_thin_convs=True)[1] == 2
    # the FiLM left after the interleave: the interleave that feeds its Mul runs channels-last, exactly
    moved, count = interleave_channels_last(wide)
    assert count == 1 and "DepthToSpace" not in {n.op_type for n in moved.graph.node}
    rng = np.random.default_rng(1)
    feeds = {
        "p": rng.standard_normal((2, 16, 5, 5)).astype(np.float32),
        "scale": rng.standard_normal((2, 4, 1, 1)).astype(np.float32),
    }
    a, b = _run_both(wide, moved, feeds)
    np.testing.assert_array_equal(a, b)


def _attention_softmax_model(axis, opset=18):
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [
            helper.make_node("Add", ["scores", "mask"], ["masked"]),
            helper.make_node("Softmax", ["masked"], ["out"], axis=axis),
        ],
        "softmax",
        [
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", 4, 17, 16]),
            helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["batch", 1, 17, 1]),
        ],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["batch", 4, 17, 16])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=9)


@pytest.mark.parametrize("axis, opset", [(2, 18), (-2, 18), (1, 18), (2, 17)])  # 17: reduction axes as attributes
def test_softmax_over_an_inner_axis_becomes_reductions(axis, opset):
    """Same probabilities (masked keys at -inf get exp(-80) / sum, under 2e-35: zero to a float's rounding of
    anything they weigh), the last-axis Softmax left alone."""
    import numpy as np
    import onnxruntime as ort

    from zoo.exporting.rewrite import softmax_as_reductions

    model = _attention_softmax_model(axis, opset)
    rewritten, count = softmax_as_reductions(model)
    assert count == 1 and "Softmax" not in {n.op_type for n in rewritten.graph.node}
    onnx.checker.check_model(rewritten, full_check=True)
    rng = np.random.default_rng(0)
    mask = np.where(rng.random((3, 1, 17, 1)) < 0.4, -np.inf, 0).astype(np.float32)
    mask[:, :, 0] = 0  # the null token is always attendable
    if axis == 1:  # over the heads: the key mask would mask whole rows
        mask[:] = 0
    feeds = {"scores": (8 * rng.standard_normal((3, 4, 17, 16))).astype(np.float32), "mask": mask}
    a = ort.InferenceSession(model.SerializeToString()).run(None, feeds)[0]
    b = ort.InferenceSession(rewritten.SerializeToString()).run(None, feeds)[0]
    np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-7)
    assert np.isfinite(b).all() and (b[np.broadcast_to(mask == -np.inf, b.shape)] < 2e-35).all()
    assert softmax_as_reductions(_attention_softmax_model(-1))[1] == 0
    assert softmax_as_reductions(_attention_softmax_model(2, opset=12))[1] == 0  # then: over axes 2 and 3 as one


def _token_projections_model(second_bias=True, shared_reader=False):
    """Tokens [N, 6, 8] -> two LayerNorm -> MatMul [-> Add] branches (two token attentions' keys and values)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    inits, nodes, outputs = [], [], []
    for i, width in enumerate((10, 6)):
        for name, value in {
            f"g{i}": 1 + 0.3 * rng.standard_normal(8),
            f"b{i}": 0.3 * rng.standard_normal(8),
            f"w{i}": rng.standard_normal((8, width)),
            f"c{i}": rng.standard_normal(width),
        }.items():
            inits.append(numpy_helper.from_array(value.astype(np.float32), name))
        nodes.append(helper.make_node("LayerNormalization", ["t", f"g{i}", f"b{i}"], [f"n{i}"], axis=-1, epsilon=1e-5))
        nodes.append(helper.make_node("MatMul", [f"n{i}", f"w{i}"], [f"m{i}"]))
        out = f"m{i}"
        if i == 0 or second_bias:
            nodes.append(helper.make_node("Add", [f"m{i}", f"c{i}"], [f"a{i}"]))
            out = f"a{i}"
        if i == 0:  # keys and values chunked apart, as torch's chunk exports
            inits.append(numpy_helper.from_array(np.array([4, 6], np.int64), "chunks"))
            nodes.append(helper.make_node("Split", [out, "chunks"], ["k", "v"], axis=2))
            outputs += [
                helper.make_tensor_value_info(o, TensorProto.FLOAT, ["batch", 6, n]) for o, n in (("k", 4), ("v", 6))
            ]
        else:
            outputs.append(helper.make_tensor_value_info(out, TensorProto.FLOAT, ["batch", 6, width]))
    if shared_reader:  # the first normalisation also read elsewhere: it must stay
        nodes.append(helper.make_node("Relu", ["n0"], ["r"]))
        outputs.append(helper.make_tensor_value_info("r", TensorProto.FLOAT, ["batch", 6, 8]))
    graph = helper.make_graph(
        nodes, "tokens", [helper.make_tensor_value_info("t", TensorProto.FLOAT, ["batch", 6, 8])], outputs, inits
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=9)


@pytest.mark.parametrize("second_bias", [True, False])
def test_token_projections_share_one_normalisation_and_one_gemm(second_bias):
    import numpy as np
    import onnxruntime as ort

    from zoo.exporting.rewrite import shared_normalized_projections

    model = _token_projections_model(second_bias)
    merged, count = shared_normalized_projections(model)
    ops = [n.op_type for n in merged.graph.node]
    assert count == 2 and ops.count("LayerNormalization") == 1 and ops.count("Gemm") == 1 and "MatMul" not in ops
    assert ops.count("Split") == 1  # the chunking Split is part of the one Split
    onnx.checker.check_model(merged, full_check=True)
    feeds = {"t": np.random.default_rng(1).standard_normal((5, 6, 8)).astype(np.float32)}
    for a, b in zip(*(ort.InferenceSession(m.SerializeToString()).run(None, feeds) for m in (model, merged))):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)
    assert shared_normalized_projections(_token_projections_model(shared_reader=True))[1] == 0


def _fc_batch_norm_model(two_gemms=True):
    """z -> Gemm [+ e -> Gemm] -> Reshape [N, 3, 2, 2] -> BatchNormalization -> Relu: a DCGAN's first layer."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.standard_normal((12, 5)).astype(np.float32), "wz"),  # transB: [out, in]
        numpy_helper.from_array(rng.standard_normal(12).astype(np.float32), "bz"),
        numpy_helper.from_array(rng.standard_normal((7, 12)).astype(np.float32), "we"),
        numpy_helper.from_array(rng.standard_normal(12).astype(np.float32), "be"),
        numpy_helper.from_array(np.array([-1, 3, 2, 2], np.int64), "view"),
        numpy_helper.from_array((1 + 0.2 * rng.standard_normal(3)).astype(np.float32), "gamma"),
        numpy_helper.from_array(rng.standard_normal(3).astype(np.float32), "beta"),
        numpy_helper.from_array(rng.standard_normal(3).astype(np.float32), "mean"),
        numpy_helper.from_array((0.5 + rng.random(3)).astype(np.float32), "var"),
    ]
    nodes = [helper.make_node("Gemm", ["z", "wz", "bz"], ["fz"], transB=1)]
    inputs = [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", 5])]
    if two_gemms:
        nodes += [helper.make_node("Gemm", ["e", "we", "be"], ["fe"]), helper.make_node("Add", ["fz", "fe"], ["f"])]
        inputs.append(helper.make_tensor_value_info("e", TensorProto.FLOAT, ["batch", 7]))
    nodes += [
        helper.make_node("Reshape", ["f" if two_gemms else "fz", "view"], ["h"]),
        helper.make_node("BatchNormalization", ["h", "gamma", "beta", "mean", "var"], ["n"], epsilon=1e-5),
        helper.make_node("Relu", ["n"], ["out"]),
    ]
    graph = helper.make_graph(
        nodes, "fc", inputs, [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["batch", 3, 2, 2])], inits
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=9)


@pytest.mark.parametrize("two_gemms", [True, False])
def test_batch_norm_folds_into_the_first_layer_gemms(two_gemms):
    """Same outputs; no BatchNormalization and no Add left, the condition Gemm feeding the fc Gemm's bias."""
    import numpy as np
    import onnxruntime as ort

    from zoo.exporting.rewrite import batch_norm_into_gemms

    model = _fc_batch_norm_model(two_gemms)
    folded, count = batch_norm_into_gemms(model)
    ops = [n.op_type for n in folded.graph.node]
    assert count == 1 and "BatchNormalization" not in ops and "Add" not in ops
    onnx.checker.check_model(folded, full_check=True)
    rng = np.random.default_rng(1)
    feeds = {"z": rng.standard_normal((4, 5)).astype(np.float32)}
    if two_gemms:
        feeds["e"] = rng.standard_normal((4, 7)).astype(np.float32)
    a, b = (ort.InferenceSession(m.SerializeToString()).run(None, feeds)[0] for m in (model, folded))
    np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5)


def test_batch_norm_fold_leaves_training_mode_and_matrix_biases_alone():
    from onnx import helper, numpy_helper

    from zoo.exporting.rewrite import batch_norm_into_gemms

    training = _fc_batch_norm_model()
    next(n for n in training.graph.node if n.op_type == "BatchNormalization").attribute.append(
        helper.make_attribute("training_mode", 1)
    )
    assert batch_norm_into_gemms(training)[1] == 0
    matrix_bias = _fc_batch_norm_model()
    bias = next(i for i in matrix_bias.graph.initializer if i.name == "bz")
    bias.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(bias).reshape(1, 12).repeat(4, 0), "bz"))
    assert batch_norm_into_gemms(matrix_bias)[1] == 0


def _rgb_skip_model(mode="linear", spatial_bias=False, coordinate="half_pixel"):
    """StyleGAN2's RGB skip over three levels: img_k = rgb_k + b_k + Resize(img_(k-1)), rgb_k graph inputs."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")]
    inputs, nodes, previous = [], [], None
    for k, size in enumerate((4, 8, 16)):
        shape = [1, 3, size, size] if spatial_bias and k == 2 else [1, 3, 1, 1]
        inits.append(numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), f"b{k}"))
        inputs.append(helper.make_tensor_value_info(f"rgb{k}", TensorProto.FLOAT, ["batch", 3, size, size]))
        nodes.append(helper.make_node("Add", [f"rgb{k}", f"b{k}"], [f"biased{k}"], name=f"bias{k}"))
        if previous is None:
            previous = f"biased{k}"
            continue
        nodes += [
            helper.make_node(
                "Resize",
                [previous, "", "scales"],
                [f"up{k}"],
                mode=mode,
                coordinate_transformation_mode=coordinate,
                name=f"up{k}",
            ),
            helper.make_node("Add", [f"biased{k}", f"up{k}"], [f"img{k}"], name=f"skip{k}"),
        ]
        previous = f"img{k}"
    output = helper.make_tensor_value_info(previous, TensorProto.FLOAT, ["batch", 3, 16, 16])
    graph = helper.make_graph(nodes, "rgb_skip", inputs, [output], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=9)


def _rgb_skip_feeds(seed):
    import numpy as np

    rng = np.random.default_rng(seed)
    return {f"rgb{k}": rng.standard_normal((2, 3, s, s)).astype(np.float32) for k, s in enumerate((4, 8, 16))}


@pytest.mark.parametrize("mode", ["linear", "nearest"])
def test_skip_biases_move_to_the_first_level_exactly(mode):
    """Same image; one bias Add left, on the 4x4 level, holding the sum of the three."""
    import numpy as np

    from zoo.exporting.rewrite import skip_biases_to_first_level

    model = _rgb_skip_model(mode)
    moved_model, moved = skip_biases_to_first_level(model)
    assert moved == 2
    onnx.checker.check_model(moved_model, full_check=True)
    bias_adds = [n for n in moved_model.graph.node if n.op_type == "Add" and n.name.startswith("bias")]
    assert [n.name for n in bias_adds] == ["bias0"]
    feeds = _rgb_skip_feeds(seed=1)
    a, b = _run_both(model, moved_model, feeds)
    np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5)


def test_skip_biases_stay_where_moving_them_would_not_be_exact():
    import numpy as np
    import onnxruntime as ort

    from zoo.exporting.rewrite import skip_biases_to_first_level

    assert skip_biases_to_first_level(_rgb_skip_model(spatial_bias=True))[1] == 1  # not a per-channel constant
    assert skip_biases_to_first_level(_rgb_skip_model("cubic"))[1] == 0  # only linear or nearest
    assert skip_biases_to_first_level(_rgb_skip_model(coordinate="tf_crop_and_resize"))[1] == 0  # extrapolates
    shared = _rgb_skip_model()  # the middle level's image is also a graph output: the last bias stays after it
    shared.graph.output.append(onnx.helper.make_tensor_value_info("img1", onnx.TensorProto.FLOAT, None))
    moved_model, moved = skip_biases_to_first_level(shared)
    assert moved == 1 and [n.name for n in moved_model.graph.node if n.name.startswith("bias")] == ["bias0", "bias2"]
    feeds = _rgb_skip_feeds(seed=2)
    before, after = (ort.InferenceSession(m.SerializeToString()).run(None, feeds) for m in (shared, moved_model))
    for a, b in zip(before, after):  # both the image and the middle level read the same
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5)
