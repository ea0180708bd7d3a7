"""fp16 and int8 versions of the float core graph.

fp16: onnxconverter_common.float16 with keep_io_types=True (inputs and outputs stay float32), and
the ops whose fp16 results overflow or underflow (reductions, powers, square roots: pixel norm and
weight demodulation) kept in float32.

int8: ONNX Runtime's static quantization, QDQ format, calibrated on latents drawn like the
runtime draws them, by MinMax and by percentile, keeping the one closer to the float graph. Only ops with int8 kernels in ONNX Runtime's CPU provider are quantized
(Conv, MatMul, Gemm; data movement and Relu between them stay int8). ConvTranspose has no int8 kernel there (quantized, it runs as dequantize ->
float ConvTranspose -> quantize, slower than float), so before quantizing,
every strided ConvTranspose is rewritten exactly into per-phase Convs + DepthToSpace
(zoo.exporting.rewrite), which do have int8 kernels; a ConvTranspose the rewrite cannot take stays
float. What was rewritten, quantized and left float goes into the manifest.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import io
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnx

# Kept in float32 under fp16: reductions and the ops around them (pixel norm, demodulation).
FP16_KEEP_FLOAT32 = [
    "ReduceMean",
    "ReduceSum",
    "ReduceSumSquare",
    "ReduceL2",
    "ReduceL1",
    "ReduceMax",
    "ReduceMin",
    "ReduceProd",
    "ReduceLogSumExp",
    "Pow",
    "Sqrt",
    "Reciprocal",
    "Exp",
    "Log",
    "Softmax",
    "LayerNormalization",
    "InstanceNormalization",
    "GroupNormalization",
    "Erf",
]
INT8_OPS = ["Conv", "MatMul", "Gemm"]  # int8 kernels exist on ORT's CPU provider (QLinearConv, QGemm, ...)
# Also kept in int8 between those: data movement (no arithmetic) and Relu, which becomes the
# quantized range of the convolution before it. Without them each layer would dequantize,
# interleave in float and quantize again (measured: ~20% slower on dcgan32/64).
INT8_PASSTHROUGH_OPS = ["Concat", "DepthToSpace", "Relu", "Transpose", "Reshape"]
CALIBRATION_METHODS = ("MinMax", "Percentile")  # ONNX Runtime's CalibrationMethod names


def to_fp16(model: onnx.ModelProto) -> onnx.ModelProto:
    from onnxconverter_common import float16

    block = sorted(set(float16.DEFAULT_OP_BLOCK_LIST) | set(FP16_KEEP_FLOAT32))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "number will be truncated" for each tiny weight: the parity check judges
        return float16.convert_float_to_float16(model, keep_io_types=True, op_block_list=block)


class CalibrationFeeds:
    """ONNX Runtime's CalibrationDataReader protocol over a list of feed dicts, readable a range at a time
    (`set_range`): the calibrator then keeps one batch's activations at a time, not every batch's."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]):
        self._feeds = feeds
        self._it = iter(feeds)

    def __len__(self) -> int:
        return len(self._feeds)

    def set_range(self, start_index: int, end_index: int) -> None:
        self._it = iter(self._feeds[start_index:end_index])

    def get_next(self):
        return next(self._it, None)

    def rewind(self):  # some calibrators call it
        self._it = iter(self._feeds)


def own_biases(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of each Conv or Gemm bias that several nodes share, one per node, under the node's name. ONNX
    Runtime's quantizer gives each node its own int32 bias too, but names the copies after the shared one plus a
    number (`mul_62` -> `mul_623`) without checking the graph's other names: StyleGAN2's `mul_623` was taken."""
    model = copy.deepcopy(model)
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    readers = collections.Counter(i for n in graph.node for i in n.input)
    for node in graph.node:
        if node.op_type in ("Conv", "Gemm") and len(node.input) > 2 and node.input[2] in inits:
            if readers[node.input[2]] > 1:
                readers[node.input[2]] -= 1
                copy_ = onnx.TensorProto()
                copy_.CopyFrom(inits[node.input[2]])
                copy_.name = f"{node.name or node.output[0]}_own_bias".replace("/", "_")
                graph.initializer.append(copy_)
                node.input[2] = copy_.name
    return model


def concat_inputs_share_output_scale(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int]:
    """In a QDQ graph, each input of a Concat that is Q -> DQ of its own (read by nothing else) quantized with the
    Concat output's scale and zero point instead of its own. Returns (model, Concats changed).

    Why: the phase convolutions of a transposed conv are calibrated one by one, so their four ranges differ and
    ONNX Runtime's QLinearConcat re-quantizes every element into the Concat's range (4.5% of
    dcgan32_minilm.shapes' int8 time). In the Concat's own range each conv writes what the Concat passes on, and
    each value is rounded once instead of twice."""
    from zoo.exporting.rewrite import consumers_of, drop_unused_initializers

    model = copy.deepcopy(model)
    graph = model.graph
    producers = {o: n for n in graph.node for o in n.output}
    consumers = consumers_of(graph)
    readers = collections.Counter([i for n in graph.node for i in n.input] + [o.name for o in graph.output])
    changed = 0
    for node in graph.node:
        if node.op_type != "Concat":
            continue
        users = consumers.get(node.output[0], [])
        if len(users) != 1 or users[0].op_type != "QuantizeLinear" or len(users[0].input) < 3:
            continue
        scale, zero_point = users[0].input[1], users[0].input[2]
        pairs = []
        for value in node.input:
            dq = producers.get(value)
            q = producers.get(dq.input[0]) if dq is not None and dq.op_type == "DequantizeLinear" else None
            if q is None or q.op_type != "QuantizeLinear" or readers[value] != 1 or readers[dq.input[0]] != 1:
                break
            pairs.append((q, dq))
        else:
            for q, dq in pairs:
                q.input[1:3] = [scale, zero_point]
                dq.input[1:3] = [scale, zero_point]
            changed += 1
    drop_unused_initializers(graph)
    return model, changed


def op_counts(model: onnx.ModelProto) -> dict[str, int]:
    return dict(sorted(collections.Counter(n.op_type for n in model.graph.node).items()))


def to_int8(
    model: onnx.ModelProto, calibration: list[dict[str, np.ndarray]], held_out: list[dict[str, np.ndarray]]
) -> tuple[onnx.ModelProto, dict]:
    """Static QDQ int8 (uint8 activations, per-channel int8 weights: the x86 VNNI pairing), calibrated on
    `calibration` batches by each of CALIBRATION_METHODS; keeps the one whose output is closest to the float
    graph's on the `held_out` batches. Returns the model and a report of what was quantized."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from zoo.exporting.rewrite import (
        channel_affine_into_conv,
        channel_scales_channels_last,
        conv_after_depth_to_space,
        conv_transpose_to_phases,
        elementwise_before_concat,
        elementwise_before_depth_to_space,
        fold_elementwise_chains,
        interleave_channels_last,
        shared_normalized_projections,
        skip_biases_to_first_level,
        slices_of_concats,
        softmax_as_reductions,
        thin_modulated_conv_to_matmul,
    )

    model, rewritten = conv_transpose_to_phases(model)
    model, _ = slices_of_concats(model)
    model, _ = channel_affine_into_conv(model)
    model, _ = shared_normalized_projections(model)
    model, _ = softmax_as_reductions(model)
    # measured at batch 64, 1 thread, CPU time: the last 1- or 3-channel conv on the phase tensor (int8 kernels
    # are at their worst with one output channel): dcgan32.digits 10.5 -> 6.3 ms; fewer float elementwise passes
    # between the int8 convs: stylegan2_64.shapes 112 -> 97 ms
    model, _ = elementwise_before_depth_to_space(model, only_before_thin_convs=True)  # the FiLM before the last conv
    # and onto each phase conv's output: four 1 MB float passes that stay in cache where one 4 MB pass did not
    # (dcgan32_minilm.shapes at batch 64: 10.1 -> 9.8 ms)
    model, _ = elementwise_before_concat(model)
    model, _ = conv_after_depth_to_space(model)
    model, _ = interleave_channels_last(model)
    model, _ = fold_elementwise_chains(model)
    # StyleGAN2's RGB skip: every level's bias added once on the smallest image (channels-last [N, H, W, 3] +
    # [1, 1, 1, 3] broadcasts were 3.5% of stylegan2_64.shapes' int8 time)
    model, _ = skip_biases_to_first_level(model)
    # ONNX Runtime runs the int8 convs channels-last: the float ops between them are written channels-last too,
    # so their transposes cancel (stylegan2_32.digits 17.0 -> 15.0 ms); a text model's FiLM scale and shift too
    # (7.3% -> 4.1% of dcgan32_minilm.shapes' int8 time)
    model, _ = thin_modulated_conv_to_matmul(model, channels_last=True)
    model, _ = channel_scales_channels_last(model)
    model = own_biases(model)
    # kept float: the toRGB MatMuls' per-sample weights are computed, and a float MatMul reads the float activation
    # directly; of the data movement, only the interleaves between int8 convs run in int8
    keep_float = [n.name for n in model.graph.node if n.op_type == "MatMul" and n.name.endswith("_as_matmul")]
    keep_float += [
        n.name for n in model.graph.node if n.op_type in ("Transpose", "Reshape") and "_channels_last_" not in n.name
    ]
    with tempfile.TemporaryDirectory(prefix="zoo-int8-") as tmp:
        src, pre = Path(tmp) / "float.onnx", Path(tmp) / "pre.onnx"
        onnx.save(model, src)
        # Symbolic shape inference writes a scratch file into the working directory: keep it in tmp.
        with contextlib.chdir(tmp):
            try:
                quant_pre_process(str(src), str(pre), skip_symbolic_shape=False)
            except Exception:  # noqa: BLE001 -- symbolic shape inference gives up on some graphs (StyleGAN2)
                quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        # Neither calibration is best for every model: the 99.999th percentile lowered the pixel error of every
        # shipped model (PSNR +0.4 to +1.2 dB; dcgan32_minilm.shapes 0.048 -> 0.044, its parity gate is 0.05) but
        # raised it on some random-weight StyleGAN2s (tiny stylegan2_32: 0.021-0.051 against MinMax's 0.026-0.037).
        # So both are made and the one closer to the float graph on held-out latents is kept.
        candidates = {}
        for method in CALIBRATION_METHODS:
            dst = Path(tmp) / f"int8-{method}.onnx"
            # ONNX Runtime's calibrators print progress to stdout, where `zoo export --json` writes the manifest
            with contextlib.redirect_stdout(io.StringIO()):
                quantize_static(
                    str(pre),
                    str(dst),
                    CalibrationFeeds(calibration),
                    quant_format=QuantFormat.QDQ,
                    op_types_to_quantize=INT8_OPS + INT8_PASSTHROUGH_OPS,
                    nodes_to_exclude=keep_float,
                    per_channel=True,
                    reduce_range=False,
                    activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8,
                    calibrate_method=getattr(CalibrationMethod, method),
                    extra_options={
                        "ActivationSymmetric": False,
                        "WeightSymmetric": True,
                        # one calibration batch at a time (the option's name is historical: it strides any
                        # calibrator). All at once held every activation of all 256 latents: a 256 px StyleGAN2
                        # was killed at 24 GB
                        "CalibStridedMinMax": 1,
                        "CalibPercentile": 99.999,
                    },
                )
            candidates[method], _ = concat_inputs_share_output_scale(onnx.load(str(dst)))
    from zoo.exporting.verify import mean_abs_errors

    errors = mean_abs_errors(model, candidates, held_out)
    chosen = min(errors, key=errors.get)
    quantized = candidates[chosen]
    before = op_counts(model)
    quantized_ops = {op: n for op, n in before.items() if op in INT8_OPS}
    float_heavy = {op: n for op, n in before.items() if op in ("ConvTranspose", "Col2Im")}
    report = {
        "method": f"onnxruntime static QDQ, {chosen} calibration, uint8 activations, per-channel int8 weights",
        "calibration_mean_abs_error_vs_float": errors,
        "conv_transpose_rewritten_to_phase_convs": rewritten,
        "calibration_batches": len(calibration),
        "calibration_samples": int(sum(len(f["z"]) for f in calibration)),
        "op_types_quantized": INT8_OPS + INT8_PASSTHROUGH_OPS,
        "quantized_nodes": quantized_ops,
        "left_float": float_heavy,
    }
    return quantized, report
