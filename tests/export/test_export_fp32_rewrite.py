"""fp32 packages carry the ConvTranspose -> phase-Conv rewrite (exact, faster on ONNX Runtime's CPU);
export's parity check against PyTorch ran on the rewritten graph."""

from __future__ import annotations

import warnings

import onnx


def test_fp32_package_has_no_conv_transpose(tmp_path):
    from zoo.exporting.testing import cached_export

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pkg, _ = cached_export(tmp_path, "dcgan32")
    ops = {n.op_type for n in onnx.load(str(pkg / "generator.onnx")).graph.node}
    assert "ConvTranspose" not in ops and "DepthToSpace" in ops


def test_stylegan2_upsample_gets_a_blocked_input(tmp_path):
    """The identity Conv before each modulated upsample: inserted where channels allow, same images."""
    import numpy as np
    import onnxruntime as ort

    from zoo.exporting.rewrite import upsample_after_identity_conv
    from zoo.exporting.testing import cached_export

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pkg, _ = cached_export(tmp_path, "stylegan2_32")
    model = onnx.load(str(pkg / "generator.onnx"))
    blocked = [n for n in model.graph.node if n.op_type == "Conv" and n.name.endswith("_blocked")]
    assert blocked, "the fp32 export applies the rewrite"
    again, count = upsample_after_identity_conv(model)
    assert count == 0  # a Resize fed by a Conv is left alone, so the rewrite is idempotent
    plain = model.__class__()
    plain.CopyFrom(model)
    for n in list(plain.graph.node):  # undo it: each Resize reads the identity Conv's input again
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
