"""fp32 packages carry the ConvTranspose -> phase-Conv rewrite (exact, faster on ONNX Runtime's CPU);
export's parity check against PyTorch ran on the rewritten graph."""
from __future__ import annotations

import warnings

import onnx


def test_fp32_package_has_no_conv_transpose(tmp_path):
    from zoo.export.testing import cached_export

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pkg, _ = cached_export(tmp_path, "dcgan32")
    ops = {n.op_type for n in onnx.load(str(pkg / "generator.onnx")).graph.node}
    assert "ConvTranspose" not in ops and "DepthToSpace" in ops
