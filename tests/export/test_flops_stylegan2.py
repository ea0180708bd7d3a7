"""count_macs on an exported StyleGAN2 generator: every modulated convolution is counted, and the
total matches a count by hand (and torch's own FLOP counter on the PyTorch model)."""

from __future__ import annotations

import torch

import zoo
from zoo.exporting.flops import count_macs
from zoo.exporting.graph import export_float_graph

# 32x32, channels per resolution {4: 16, 8: 16, 16: 16, 32: 8}, w_dim 16, 2 mapping layers, grey output
TINY = dict(width=8, max_channels=16, channels=1, latent_dim=16, w_dim=16, mapping_layers=2)


def hand_count() -> dict[str, int]:
    """MACs per image, layer by layer: (resolution, in channels, out channels, kernel) per convolution."""
    convs = [
        (4, 16, 16, 3),
        (4, 16, 1, 1),  # 4x4 block: conv1 (on the constant), ToRGB
        (8, 16, 16, 3),
        (8, 16, 16, 3),
        (8, 16, 1, 1),  # conv0 (after upsampling), conv1, ToRGB
        (16, 16, 16, 3),
        (16, 16, 16, 3),
        (16, 16, 1, 1),
        (32, 16, 8, 3),
        (32, 8, 8, 3),
        (32, 8, 1, 1),
    ]
    conv = sum(r * r * cin * cout * k * k for r, cin, cout, k in convs)
    # Gemm: 2 mapping layers (16 -> 16) and one style affine (w_dim 16 -> in channels) per convolution
    gemm = 2 * 16 * 16 + sum(16 * cin for _, cin, _, _ in convs)
    # MatMul: the demodulation norms, styles^2 [1, in] @ sum_k W^2 [in, out], for the 3x3 convolutions
    matmul = sum(cin * cout for _, cin, cout, k in convs if k == 3)
    return {"Conv": conv, "Gemm": gemm, "MatMul": matmul}


def test_count_macs_counts_stylegan2_modulated_convolutions():
    torch.manual_seed(0)
    gan = zoo.create_model("stylegan2_32", **TINY).eval()
    graph = export_float_graph(gan.generator, "none", True, 16, 0, 0)
    cost = count_macs(graph)
    expected = hand_count()
    assert cost["uncounted"] == []
    assert cost["by_op"] == expected
    assert expected["Conv"] == 3_294_464 and cost["macs"] == 3_299_008  # written out once, to read at a glance

    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        gan.generator(torch.zeros(1, 16), None, torch.ones(1))
    assert counter.get_total_flops() == 2 * cost["macs"]  # torch counts a multiply-add as 2 FLOPs
