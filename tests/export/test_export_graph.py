"""Pieces of the exporter: the in-graph post-processing, spectral norm removal, FLOP counting."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import TensorProto, helper

from zoo.exporting.flops import count_macs
from zoo.exporting.graph import FLOAT_OUTPUT, append_postprocess, prepare_generator
from zoo.images import to_uint8


def test_postprocess_in_graph_equals_zoo_to_uint8():
    """Identity core [N, 3, 2, 4] -> the appended uint8 NHWC tail, against zoo.images.to_uint8,
    including the rounding boundaries and values outside [-1, 1]."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 2, 4])
    y = helper.make_tensor_value_info(FLOAT_OUTPUT, TensorProto.FLOAT, ["batch", 3, 2, 4])
    core = helper.make_model(
        helper.make_graph([helper.make_node("Identity", ["x"], [FLOAT_OUTPUT])], "id", [x], [y]),
        opset_imports=[helper.make_opsetid("", 18)],
        ir_version=10,
    )  # what ORT reads
    model = append_postprocess(core)
    onnx.checker.check_model(model, full_check=True)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    values = rng.uniform(-1.3, 1.3, (5, 3, 2, 4)).astype(np.float32)
    boundaries = ((np.arange(24, dtype=np.float32) * 10 + 0.5) / 127.5 - 1).reshape(1, 3, 2, 4)  # exact .5 pixels
    extremes = np.array([-1, 1, 0, 1e9, -1e9, 0.999, -0.999, 2] * 3, np.float32).reshape(1, 3, 2, 4)
    for batch in (values, boundaries, extremes):
        got = session.run(["images"], {"x": batch})[0]
        assert got.dtype == np.uint8 and got.shape == (len(batch), 2, 4, 3)
        assert np.array_equal(got, to_uint8(batch))


def test_prepare_generator_bakes_spectral_norm():
    g = torch.nn.Sequential(
        torch.nn.utils.parametrizations.spectral_norm(torch.nn.Linear(4, 3)),
        torch.nn.utils.spectral_norm(torch.nn.Linear(3, 2)),
    )
    g.eval()
    x = torch.randn(5, 4)
    with torch.no_grad():
        expected = g(x)
    prepared = prepare_generator(g)
    assert not torch.nn.utils.parametrize.is_parametrized(prepared[0])
    assert not prepared[1]._forward_pre_hooks
    with torch.no_grad():
        assert torch.allclose(prepared(x), expected, atol=1e-6)
    assert torch.nn.utils.parametrize.is_parametrized(g[0])  # the model itself is untouched


def test_count_macs_of_a_known_graph():
    w = helper.make_tensor("w", TensorProto.FLOAT, [8, 4, 4, 4], np.zeros(8 * 64, np.float32))  # ConvT 8 -> 4
    k = helper.make_tensor("k", TensorProto.FLOAT, [3, 4, 3, 3], np.zeros(3 * 36, np.float32))  # Conv 4 -> 3
    nodes = [
        helper.make_node("ConvTranspose", ["x", "w"], ["h"], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["h", "k"], ["y"], pads=[1, 1, 1, 1]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3, 8, 8])],
        [w, k],
    )
    cost = count_macs(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]))
    assert cost["by_op"] == {"ConvTranspose": 8 * 16 * 4 * 16, "Conv": 3 * 64 * 4 * 9}


def test_conv_transpose_rewrite_is_exact_for_gan_upsampling_shapes():
    """ConvTranspose -> per-phase Convs + DepthToSpace: the same numbers (to float rounding) for the
    usual k4 s2 p1 and other kernel/stride/padding combinations; unsupported ones are left alone."""
    from zoo.exporting.graph import export_core
    from zoo.exporting.rewrite import conv_transpose_to_phases

    class Up(torch.nn.Module):
        def __init__(self, *args):
            super().__init__()
            self.up = torch.nn.ConvTranspose2d(*args)

        def forward(self, z):
            return torch.relu(self.up(z)) * 2  # the Relu folds into the phase convs

    for cin, cout, k, s, p, size, converts in [
        (8, 4, 4, 2, 1, 4, True),
        (8, 4, 4, 2, 0, 5, True),
        (3, 5, 2, 2, 0, 3, True),
        (4, 4, 3, 1, 1, 6, True),
        (4, 4, 4, 2, 2, 6, True),
        (4, 6, 6, 3, 1, 4, False),
    ]:
        x = np.random.default_rng(0).standard_normal((2, cin, size, size), dtype=np.float32)
        model = export_core(Up(cin, cout, k, s, p).eval(), ["z"], {"z": x}, 18)
        rewritten, count = conv_transpose_to_phases(model)
        assert count == int(converts)
        run = lambda m: ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(
            None, {"z": x}
        )[0]
        expected, got = run(model), run(rewritten)
        assert got.shape == expected.shape and np.abs(got - expected).max() < 1e-5
        if converts:
            ops = [n.op_type for n in rewritten.graph.node]
            assert "ConvTranspose" not in ops and ops.count("Relu") == ops.count("Conv")
