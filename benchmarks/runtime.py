"""Generation speed, side by side in one run: PyTorch eager, torch.compile, zoo_runtime fp32 and int8.

    python benchmarks/runtime.py [--models dcgan32,dcgan64,stylegan2_64.shapes] [--threads N] [--readme] [--append]
                                 [--out benchmarks/results/runtime]

Per model (same generator weights for every engine, same inputs, same machine, same threads):
- batch 1 latency, p50 and p99 over individually timed calls;
- batch 64 throughput (images per second of the best run; the median is in the JSON): on a shared
  machine the best run is the one least disturbed by others, like timeit's minimum;
- the roofline: the generator's FLOPs per image (Conv/ConvTranspose/Gemm/MatMul counted on the
  exported graph) over this machine's measured sgemm rate (best of numpy and torch, best over the
  run), i.e. the throughput a perfect fp32 implementation would reach; throughput as % of it.
Plus cold start: a fresh process to the first PNG, `python -m zoo_runtime PKG -n 1` against the
PyTorch path `zoo sample WEIGHTS -n 1`. Plus prompt-to-image latency at batch 1, text encoder
included, for each text encoder in `--prompt-encoders` (default hash,minilm; the shipped text models
dcgan32.shapes-text and, from the zoo-minilm plugin, dcgan32_minilm.shapes), runtime against the
PyTorch path: measured by benchmarks/text_latency.py in its own worker process.

Every engine returns what an application wants: uint8 images [N, H, W, C]. The PyTorch rows do the
same post-processing in torch (scale, clamp, uint8, NHWC); zoo_runtime does it inside the graph.

Each engine runs in its own worker process, as it would in deployment: OpenMP runtimes (torch's,
inductor's) and ONNX Runtime's thread pool spin-wait after work, and in one process they steal the
cores from each other (measured here: eager batch-1 latency 1 ms alone, 160 ms next to a compiled
model). Workers are run in interleaved rounds (A B C D, A B C D, ...), so a burst of load from
other processes on a shared machine hits every engine alike; the load average is recorded.

Adding a row: a model is any registered name (`--models stylegan2_64,dcgan32.shapes-text`), with
its conditioning inputs made by `condition_inputs`; an engine is one entry in `ENGINES` (a function
(weights path, packages, manifest) -> callable(z, cond) -> uint8 images, run inside a worker).
`--append` adds the models of this run to those already in OUT.json, so a row can be added without
re-measuring the others.
Goals on the 2-core CPU: batch 1 >= 1.5x faster than eager; zoo_runtime fp32 at least level with
torch.compile at batch 1 (latency), 8 and 64 (throughput); batch 64 at >= 80% of the roofline;
int8 >= 1.8x fp32 throughput (its FID cost beside it); cold start < 0.5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

README_START, README_END = "<!-- runtime-benchmark:start -->", "<!-- runtime-benchmark:end -->"

# What was profiled and tried for CPU throughput (issue "Runtime, second round"); kept with the table.
NOTES = """\
Where the time goes (`python benchmarks/profile_runtime.py PKG --batch 64 --threads 1`, ONNX Runtime's per-node profiler):
- dcgan64 (earlier round): ConvTranspose was 89% of the kernel time (one narrow GEMM plus col2im per image).
- dcgan32.shapes (after the phase rewrite): Conv 61%, Concat 16% and DepthToSpace 18% (interleaving the four
  phase convolutions' outputs, plus the reorders out of and back into the blocked layout around them), and the
  last 3-channel conv 15% (ONNX Runtime pads its 3 output channels to a block of 16).
- stylegan2_64.shapes: Conv 68%, Mul 9%, Upsample 8%, Add 6%, reorders 6%, LeakyRelu 3%: after each modulated
  conv six NCHW elementwise passes (demodulate, noise, bias, lrelu, gain, next styles) over the largest tensors.
- stylegan2_64.shapes int8: QLinearConv 35%, Resize 20% (float, NHWC), Mul/Add/LeakyRelu 28%, (de)quantize 17%.
- stylegan2_32.digits fp32 (load 2.4, 33.7 ms of kernel time per batch of 64): Conv 74%, Upsample 8%, Mul 6%,
  reorders 6%, Add 2%, LeakyRelu 2%. The convs run at about 96 GFLOP/s, near the sgemm roofline, so what is
  left to win is outside them. Upsample [64,32,32,32] took 3.8% and [64,64,16,16] 1.9%: in proportion to their
  elements. The two folded [64,64,1,1] Muls took under 0.3%. Under load 12-18 a profile had shown 14x for 2x
  the data and 3% for each tiny Mul. The profiler times nodes by the wall clock, so on a loaded machine the
  memory-bound nodes look far slower than they are.
- single ops in ONNX Runtime, 1 thread, CPU time, at [64,16,32,32]: Mul by [N,C,1,1], Add of a [1,C,H,W]
  constant and LeakyRelu 0.12-0.17 ms each, near a plain copy (0.10 ms), so the elementwise passes are cheap.
  The blocked upsample costs 1.4 ms for 2M outputs on its own, but inside the chain (identity conv + upsample +
  3x3 conv) it adds only 0.6 ms to the conv's 6.9 ms.
- two ONNX Runtime slow paths found this round (single ops, 1 thread, CPU time): a per-sample channel Mul
  channels-last, [64,32,32,16] * [64,1,1,16], 0.79 ms against 0.11 ms channels-first (it broadcasts one 16-wide
  row at a time), which is the layout ONNX Runtime gives the float ops between int8 convs; and a scalar Add on a
  tensor whose last dimension is 1, [64,32,32,1] + 1, 0.67 ms against 0.013 ms for [64,1,32,32].
- the text models (dcgan32.shapes-text, dcgan32_minilm.shapes: token cross-attention at 4x4 and 8x8, FiLM),
  fp32, batch 64 (profiled at load 2): the phase convs 25% of the kernel time, the attention (token K/V
  projections, the masked softmax over 17 keys, layer norms), FiLM and other small ops 35%, interleaves and
  reorders 20% (the one the attention reads is still a DepthToSpace), the last conv (then as phase taps) 16%, the
  Gemms 4%. int8 (load 0.6): QLinearConv 31%, QLinearMatMul 10%, and the float softmax, mask, layer norms, FiLM
  Mul/Add, (de)quantize and the attention's transposes over 40%: little of it quantizes.

Tried, measured side by side (each variant in its own process or interleaved in one, 1 thread, CPU time, best or
median of 5-7 runs at batch 64):
- **kept**: ConvTranspose rewritten exactly into per-phase Convs + DepthToSpace for fp32 packages too (was int8
  only): dcgan64 batch 64 2.1x faster (1253 -> 604 ms at load 8), batch 1 level (2.46 / 2.52 ms).
- **kept**: graph optimisation level ALL (NCHWc layout): EXTENDED was 1.6x slower at batch 64 and 1.4x at batch 1
  on stylegan2_64; switching only the NCHWc transformer off: 1.33x slower (239 vs 180 ms).
- **kept**: an identity 1x1 Conv before each modulated upsample of StyleGAN2 (now upsample_after_identity_pool):
  +7% at batch 1, +8% at batch 8, +13% at batch 64. This round the Conv became a 1x1 MaxPool, which enters the
  blocked layout the same way without the conv's multiply-adds: stylegan2_32.digits 28.0 -> 27.4 ms.
- **kept**: elementwise chains folded (zoo.exporting.rewrite.fold_elementwise_chains): noise + bias one Add, the
  activation gain moved onto the next layers' per-sample styles; stylegan2_64.shapes batch 64 fp32 181 -> 170 ms
  (-6%), int8 112 -> 97 ms (-14%, it runs before quantizing too); uint8 images identical in fp32.
- the same models measured before and after the last-conv rewrites (whole bench runs, 1 thread, CPU time, batch 64,
  fp32 against torch.compile / int8 against fp32): dcgan32.pairs 0.94x -> 1.08x / 1.83x -> 2.12x, dcgan32.shapes
  1.11x -> 1.22x / 2.53x -> 2.75x, dcgan32.shapes-text 1.00x -> 1.29x / 1.74x -> 1.84x, dcgan32.digits int8
  1.35x -> 2.25x.
- **kept**: StyleGAN2's toRGB layers as batched MatMuls (zoo.exporting.rewrite.thin_modulated_conv_to_matmul):
  Conv1x1(x * s) with 1 or 3 outputs becomes MatMul(s * W, x) with per-sample weights. Before, ONNX Runtime
  padded the conv to 16 outputs after a full-size Mul and a reorder, and upsampled the padded RGB skip. Batch
  64, best of 16-20 interleaved runs: stylegan2_32.digits fp32 29.6 -> 27.6 ms, stylegan2_64.shapes fp32
  162 -> 153 ms, stylegan2_32.digits int8 21.5 -> 17.4 ms (these MatMuls stay float in int8; the parity error
  does not grow: mean 0.0217 -> 0.0213). Batch 1 and 8 are level or better.
- whole bench runs before -> after the toRGB rewrite (1 thread, CPU time, batch 64; before at load 18, after
  at load 5): stylegan2_32.digits fp32 against torch.compile 0.95x -> 1.05x, roofline 73% -> 80%, int8 against
  fp32 1.52x -> 1.64x; stylegan2_64.shapes 1.04x -> 1.08x, 74% -> 76%, int8 1.60x -> 1.91x. stylegan2_256
  (re-measured after the rewrite, load 2): fp32 against torch.compile 1.08x / 1.21x / 1.15x -> 1.02x / 1.14x /
  1.20x at batch 1 / 8 / 64 (two runs at different loads), roofline 68% -> 75%; its int8 export now passes its
  parity gate (mean error 0.0487 < 0.05, was 0.0535 and refused; a thin margin) and runs at 1.86x fp32 at
  batch 64 (FID int8 against fp32 0.53, random weights).
- this round (load 0.6-1, 1 thread, CPU time, batch 64, best of 15-20 runs interleaved in one process):
  - **kept**: the DCGAN interleaves that convolutions read done channels-last (interleave_channels_last):
    Transpose to NHWC (merged by ONNX Runtime into the reorder out of the blocked layout), a transpose that moves
    runs of s*C floats, Transpose back; DepthToSpace moves single floats. dcgan32.digits 12.7 -> 11.5 ms,
    dcgan32.shapes 38.2 -> 35.5 ms; in int8 the transposes cancel against ONNX Runtime's channels-last int8
    layout: dcgan32.shapes int8 kernel time 15.3 -> 13.2 ms.
  - **kept** (fp32): the last 1- or 3-channel conv as phase taps (thin_conv_as_phase_taps: a grouped 1x1 per
    input phase, a one-hot depthwise shift, a 1x1 sum) instead of one conv padded to 16 outputs over every
    phase and tap: dcgan32.digits 11.4 -> 9.5 ms, dcgan32.shapes 35.9 -> 32.6 ms, dcgan32.pairs 73.5 -> 69.5
    ms, dcgan32.shapes-text 21.0 -> 20.2 ms (each after the channels-last interleave). Not kept: the same at
    full resolution (34.1 ms on dcgan32.shapes), a depthwise conv per output channel then a sum (43.3 ms: the
    input copied per output channel); in int8 the phase taps were slower (1.84 vs 1.22 ms for the conv) and
    so was the last conv at full resolution after the now cheap interleave (dcgan32.digits 7.9 vs 4.9 ms), so
    int8 keeps conv_after_depth_to_space.
  - **kept** (int8): StyleGAN2's per-sample demodulation and style Muls written channels-last as rows of W*C
    (channel_scales_channels_last) and the toRGB MatMuls reading x as [N, H*W, C]: their transposes cancel and
    the slow channels-last broadcast goes. stylegan2_32.digits int8 17.0 -> 14.5 ms (fp32 28.4 ms). Not on the
    DCGAN text models' FiLM: no gain there (13.0-13.4 vs 13.2-13.6 ms) and the parity error grew.
  - **kept**: int8 calibration chosen per model, MinMax or the 99.999th percentile, whichever is closer to the
    float graph on 32 held-out latents (the percentile lowered the pixel error of every shipped model, PSNR
    +0.4 to +1.2 dB, but not of every random-weight StyleGAN2; Entropy was worse than both, 0.048-0.058 on
    dcgan32_minilm.shapes). The int8 parity gate reads 32 images from a fixed seed, not 6 fresh ones
    (dcgan32_minilm.shapes measured 0.047-0.056 on 6 against the 0.05 gate and failed half its exports).
    Calibration changes no graph, so the speeds below do not depend on it.
  - not kept: the channels-last interleave also before the attention of the text models (-1.5% fp32, int8
    level: inside the spread); flushing denormals (session.set_denormal_as_zero): 28.25 vs 28.27 ms.
  - measuring: every row was re-run on a quiet machine (load under 1) with the script's defaults, the best of 6
    batch runs after 2 warm-up runs. The earlier runs (best of 2 after 1) understated steady state: the first
    batch-64 runs after batch 1 and 8 are slower while ONNX Runtime re-plans its memory (stylegan2_32.digits fp32
    37, 37, then 29 ms), and torch.compile's rows rose too (dcgan32.digits 3385 -> 4392 images/s).
- round 3 (this session; load 0.6-1, 1 thread, CPU time; kernel times from profile_runtime.py at batch 64, best
  of 3 interleaved runs of 10):
  - **kept** (fp32): the last 1- or 3-channel conv as one small conv per input phase, summed
    (thin_conv_as_phase_groups). A 3x3 conv after a 2x interleave reads each input phase through a 2x2 window, so
    four convs with their own padding (0.79M multiply-adds per 32 px image, and ONNX Runtime fuses the sums into
    them) replace the phase taps (1.2M, plus a tensor of taps written and re-read): dcgan32_minilm.shapes 23.3 ->
    22.0 ms, dcgan32.digits 10.2 -> 9.7 ms. Whole bench runs: dcgan32.digits roofline 85% -> 89%, dcgan32.shapes
    99% -> 102% (the roofline counts the original conv's multiply-adds), the text models 61-63% -> 68%. In int8
    the four small convs were slower than the one on the phase tensor (4 x 2.4% against 8-9% of the time), so
    int8 keeps conv_after_depth_to_space.
  - **kept** (fp32): the FiLM and Relu tiled over the phases moved onto each phase conv's output
    (elementwise_before_concat), so the phase groups read those and the Concat and a Split of it go (level with
    the Split version within the spread: 21.5-23.0 vs 21.7-22.7 ms; kept for the two copies it saves).
  - **kept**: the token text models' attention computed in the q conv's layout [N, heads, dh, HW] (the PyTorch
    module, zoo.conditioning.TokenAttention, so eager and torch.compile get it too): no image-sized transposes
    (ONNX Runtime folds the two that remain into its matmuls), masked keys get -inf added instead of a Where
    (single ops at [64,4,64,17]: Where + Softmax 0.76 ms, Add + Softmax 0.57, Softmax alone 0.39).
  - **kept**: slices_of_concats: the token models' graph packed [pooled | tokens | mask] into one row and sliced
    it apart at once (Concat + three Slices, 3% of fp32 time); in int8 that Concat was quantized with one range
    for pooled embedding, tokens and mask, which cost accuracy: dcgan32_minilm.shapes int8 parity error 0.040
    -> 0.023, PSNR against fp32 30.1 -> 36.0 dB. Whole bench runs with the attention change: fp32 against
    torch.compile at batch 64 1.02x -> 1.11x, roofline 61% -> 63%, int8 1.53x -> 1.64x.
  - **kept** (int8): channel_scales_channels_last on the DCGAN text models too, the FiLM shift Add taken into
    the same rows (the channels-last Mul and Add were 7% of dcgan32_minilm.shapes' int8 time; 4.7% + 2.6% ->
    2.4% + 1.7%).
  - **kept**: the attention's GroupNorm scale and shift folded into the 1x1 query conv that reads them
    (channel_affine_into_conv; exact for an unpadded conv): dcgan32_minilm.shapes int8 14.3-14.6 -> 13.4-13.6
    ms, fp32 level (21.0 vs 20.9-21.3 ms). Whole bench runs: int8 1.59x -> 1.65x fp32, roofline 68% -> 70%.
  - **kept** (int8): a Concat's inputs quantized in the Concat's own scale (concat_inputs_share_output_scale, on
    the QDQ graph): the phase convolutions were calibrated one by one, so QLinearConcat re-quantized every
    element of four differently scaled inputs (4.5% of dcgan32_minilm.shapes' int8 time). Best of 15 at batch
    64: 11.83 -> 11.58 ms, parity error 0.0259 -> 0.0244 (each value rounded once). Whole bench runs, int8
    against fp32: dcgan32.digits 1.87x -> 2.02x, dcgan32.shapes 2.43x -> 2.59x, dcgan32.pairs 2.58x -> 2.67x,
    dcgan32_minilm.shapes 1.64x -> 1.71x, dcgan32.shapes-text 1.58x -> 1.61x.
  - not kept: the attention's two activation matmuls left float in int8 (13.3-13.6 vs 13.0-13.4 ms); the FiLM
    Mul and Add run in uint8 (QLinearMul/QLinearAdd, which needed the mask's -inf made finite): 13.5-14.4 vs
    14.1-14.3 ms, inside the spread, and the parity error grew 0.023 -> 0.032; the softmax in uint8: its input
    holds the mask's -inf, which the calibrator refuses.
  - **fixed** (int8 quality, not speed): the text models' int8 packages were calibrated and gated on random unit
    embeddings only, and clipped real prompts: dcgan32_minilm.shapes int8 against fp32 on eight typed captions
    0.097 (benchmarks/int8_prompts.py; the random inputs measured 0.023), darker, speckled shapes in the grid.
    Half the calibration now comes from the model's encoder on prompts (zoo.exporting.prompts), and parity
    gates the prompts' own mean: 0.0086. The graphs, and so the speeds below, do not change.
  - where the text models stand: fp32 69-71% of the roofline, int8 1.61-1.71x (the fp32 gains above held the
    ratio down). Their int8 time is 45% float and glue (softmax, layer norms, the mask and residual Adds, (de)quantize,
    transposes, the interleave the attention reads): each 1-5%, none large enough alone.
- round 4 (this session; load 0.5-1, 1 thread, CPU time, batch 64; A/B of two packages in one process,
  alternating calls, best of 60 each, or the raw graphs best of 90; exact rewrites, zoo/exporting/rewrite.py):
  - **kept**: the token attention's scores as [N, heads, 1 + T, HW] (zoo.conditioning.TokenAttention: the keys
    transposed, not the scores), so the softmax runs over the 17 keys with the pixels innermost, written as
    ReduceMax/Sub/Exp/ReduceSum/Div (softmax_as_reductions): ONNX Runtime's Softmax over rows of 17 took 3.3% and
    the mask Add 1.6%; now the attention core at 8x8 is 0.75 ms instead of 1.22. The 1/sqrt(dh) scale on the
    keys (17 x dh per head), not the scores: int8 had a Div over every score (0.12 ms, now 0.03).
  - **kept**: one LayerNorm and one Gemm for both attentions' keys and values (shared_normalized_projections:
    each block's LayerNorm affine folded into its projection, the bias into the Gemm, the k/v chunking into one
    Split): the second LayerNorm (0.25 ms), two bias Adds and two Splits go. fp32 -0.4 ms.
  - **kept**: the FiLM after the 4x4 -> 8x8 and 8x8 -> 16x16 interleaves stays after them (fp32 and int8), one
    pass over one tensor, where before it the scale and shift were tiled and each phase conv's output left the
    blocked layout on its own (elementwise_before_depth_to_space(only_before_thin_convs)): fp32 -0.5 ms; and
    those interleaves, now read by the FiLM Mul, run channels-last (interleave_channels_last): -0.4 ms (the 4x4
    DepthToSpace alone took 0.5 ms for 1 MB).
  - **kept** (int8): the last conv on the phase tensor through one 2x2 window shared by all output phases, each
    phase sliced from a grid one larger (conv_after_depth_to_space), instead of a 3x3 window over all phases:
    2.25x fewer multiply-adds, 1.21 -> 0.70 ms; and that conv's FiLM onto each phase conv's output
    (elementwise_before_concat, as fp32 does): four 1 MB float passes that stay in cache where one 4 MB pass did
    not, 10.1 -> 9.8 ms.
  - **kept** (fp32): the first layer's BatchNorm folded into its Gemms, the condition Gemm computing the fc
    Gemm's bias input (batch_norm_into_gemms): -0.15 ms. In int8 the Gemm with a computed bias stayed float:
    +0.3 ms, so not there.
  - **kept** (runtime): the embeddings' range check as two reductions (min, max) instead of isfinite + abs
    temporaries over a token model's 6560-wide rows (0.09 -> 0.04 ms a call).
  - not kept: the last interleave and the transpose to NHWC images as one channels-last move on the uint8 output
    (fp32 level, int8 +0.4 ms); the FiLM as a BatchNormalization over [1, N*C, H, W] (one pass instead of Mul +
    Add; +0.3 ms); the token projection as a 1x1 conv over the batch folded into the width (2.83 vs 2.66 ms for
    the Gemm); the last conv as one windowed conv in fp32 instead of the phase groups (+0.6 ms); the attention
    matmuls float in int8 (level); Slice as an int8 pass-through op (level); batch 64 run as chunks of 8-32 to
    stay in cache (fp32 level, int8 slower); ONNX Runtime's MultiHeadAttention contrib op for the attention core
    (1.50 ms with the two transposes it needs, against 0.65 ms for the five passes, at the 8x8 shape); residual
    Adds in int8 (adding Add to the quantized op types makes the calibrator range the mask's -inf: refused); the
    16x16 FiLM done in channels-last rows before the transpose back to NCHW, so that transpose could merge into
    the next convs' reorder (level).
  - where the text models stand (whole bench runs, 3 rounds): fp32 74% (dcgan32.shapes-text) and 77%
    (dcgan32_minilm.shapes) of the roofline, from 71% and 69%; int8 1.72x and 1.75x, from 1.61x and 1.71x (1.81x in
    one run: the ratio moves by a few percent with the machine's memory traffic). Their convolutions and Gemms run
    at 100-130% of the sgemm rate (14 of 18 ms for dcgan32_minilm.shapes fp32); the other 4 ms are about 150
    small nodes (FiLM, attention, norms, reorders, interleaves), none over 0.2 ms. The sgemm rate is steady
    across runs (106 GFLOP/s) while these memory-bound passes slow with other tenants' traffic:
    dcgan32_minilm.shapes measured 79%, 76% and 77% in three runs within the hour (the later two with the
    BatchNorm fold, which measured faster side by side).
- round 5 (session 12, on an Intel Xeon with AVX-512, AVX512-VNNI and AMX, 2 cores, not the AVX2 EPYC of the
  rounds above; 1 thread, CPU time, batch 64):
  - **kept** (fp32 and int8): the rewritten softmax floors the shifted scores at -80 before Exp
    (softmax_as_reductions, SOFTMAX_EXP_FLOOR). ONNX Runtime's Exp is about 20x slower on inputs below about -87
    (its underflow range), and every masked key of a token attention sits at -inf: a lone Exp over
    [64, 4, 17, 64] with 60% of it at -inf took 1.35 ms against 0.06 ms (the same at -100 or -1e4; at -80 and
    above it is fast; flushing denormals did not help). exp(-80) = 1.8e-35 is far below a float's rounding of
    the row sum. dcgan32_minilm.shapes, one process, packages alternating, best of 30: fp32 18.65 -> 17.16 ms,
    int8 13.47 -> 11.65 ms.
  - **kept** (fp32 and int8): StyleGAN2's RGB skip biases added once, on the 4x4 level
    (skip_biases_to_first_level): img_k = toRGB_k(x) + b_k + Resize(img_(k-1)), and a linear Resize maps a
    per-channel constant to itself. In int8 the RGB path runs channels-last, where each [N, H, W, 3] + [1, 1, 1, 3]
    broadcast was slow (3.5% of stylegan2_64.shapes' int8 kernel time; the 64 px one 3.3 ms). stylegan2_64.shapes
    int8 at batch 64, medians of 30 alternating runs, six runs in both orders: new/old 0.94-0.98 (kernel time
    103.4 -> 98.3 ms); fp32 level (-1%); stylegan2_32.digits, one grey channel, level.
  - measured, not kept: the OpenVINO plugin execution provider (`onnxruntime-ep-openvino` 1.8.1, 158 MB), which
    on this Xeon offers a CPU device (on the EPYC it offered none). At fp32 (INFERENCE_PRECISION_HINT f32; the
    images then match ONNX Runtime's within 1 level) it is slower than ONNX Runtime on our graphs:
    dcgan32_minilm.shapes 23.6 vs 19.0 ms, dcgan32.shapes 30.4 vs 26.7 ms (batch 1: 0.92 vs 0.65 ms),
    stylegan2_64.shapes 214 vs 140 ms. Its default precision on an AMX CPU is bf16, 1.4-2.5x faster than our
    fp32 (13.6, 10.8 and 59.6 ms) but not fp32: images differ by up to 5-11 levels (mean 0.3-0.6). It failed to
    compile our int8 graphs (its DepthToSpace transformation rejects the per-channel dequantization before it).
    So `auto` does not use it: it would be chosen only where it wins at the precision asked for.
  - lead, not done: in int8, StyleGAN2's demodulation Mul could go into the DequantizeLinear before it, as a
    blocked dequantization (opset 21: one scale per sample and channel, scale = conv scale x demodulation, over
    the channels-last rows): one pass instead of two, measured alone at [64, 64, 16 x 64] 1.21 ms against 2.34
    ms for DequantizeLinear + the rows Mul (1 thread, best of 30), about 4 ms of stylegan2_64.shapes' 98 ms.
    It needs the int8 graphs at opset 21, and so onnxruntime >= 1.20 where zoo-runtime asks for 1.17.
  - measured, not kept: batch 64 run as chunks of 16 on stylegan2_32.digits, 27.2 -> 25.4 ms here (the working
    set of one 32 px layer at batch 64 leaves the cache), still short of torch.compile; on the EPYC chunking was
    level in fp32 and slower in int8.
  - the machine, not the graphs, moved the roofline: MKL's sgemm reaches 160-190 GFLOP/s on one core here and
    ONNX Runtime's own kernels (MLAS) 130-142 (the benchmark now prints both); every convolution of these models
    runs at 110-150 GFLOP/s. So on this CPU no fp32 row reaches 80% of the roofline (50-78%), while they run at
    about 60-95% of what ONNX Runtime's own sgemm reaches. The full table from this machine is
    benchmarks/results/runtime_cpu_time_xeon.md.
  - where StyleGAN2 stands on this Xeon: torch.compile (oneDNN's AVX-512 convolutions and fused elementwise
    kernels) is ahead of the fp32 runtime at batch 64 on stylegan2_32.digits (0.85x); the runtime is ahead at
    batch 1 and 8 everywhere, and on stylegan2_64.shapes at 64 (1.02x before the RGB skip fold, 1.08x after). Its time is 60% convolution at
    120-147 GFLOP/s (MLAS's ceiling here) and 40% full-size elementwise passes between them (modulation,
    demodulation, noise and bias, LeakyRelu, upsample, reorders) that inductor fuses and ONNX Runtime does not.
    The 256 px StyleGAN2 is ahead at every batch size (1.01x / 1.15x / 1.04x; before the fold 1.04x / 1.19x /
    1.08x, within the spread). int8 is 1.39-1.60x fp32 on StyleGAN2 here (1.34x-1.35x before the fold) and 1.39x on the text models: AVX-512 doubled the fp32 rate, not that of the int8 kernels.
- earlier lead, not confirmed: the 3x3 conv after each upsample is not slow per FLOP. It has twice the input
  channels of the conv after it, so twice the multiply-adds.
- not kept: the bilinear upsample folded into its 3x3 conv (Pad(edge), then one Conv with 4*Cout outputs on the
  small input, then DepthToSpace). It was slower even before the border terms it would need: 9.0 vs 7.5 ms for
  [64,32,16,16] -> 16 channels, and 7.5 vs 6.5 ms for [64,64,8,8] -> 32 channels.
- not kept: the upsample as Pad(edge) + depthwise ConvTranspose (kernel 4, stride 2) + Slice: 7.7 ms for the
  upsample alone, more than the current upsample and conv together (7.5 ms).
- not kept: a static batch dimension (a graph per batch size, picked at run time): 172 -> 168 ms (-2%), inside
  the run-to-run spread; not worth a second graph per batch size.
- not kept: int8 Resize on the uint8 tensor (Resize added to the QDQ pass-through ops): 98 vs 97 ms, no gain.
- not usable here: `onnxruntime-ep-openvino` 1.8.1 (a plugin execution provider that installs beside onnxruntime,
  53 MB) registers but offers no device on this AMD EPYC, so there is nothing to measure or choose; `auto` does
  not use it. `onnxruntime-openvino` replaces the onnxruntime package instead of adding to it; `onnxruntime-ggml`
  0.2.0 was not tried (time).
- intra-op spinning: irrelevant with one thread; with 2 threads on a machine this oversubscribed it was
  inconclusive (dcgan64 batch 64 +23%, batch 1 -38% with spinning off at load 8), so the default (on) stays.
- not done, by arithmetic: one Conv for all four phases of a transposed conv (no Concat) needs the union 3x3
  window, 2.25x the multiply-adds of the 2x2 phases; folding StyleGAN2's bilinear upsample into its 3x3 conv
  (four 3x3 phase convs on the small input, same multiply-adds) brings back the interleave and needs border
  terms for the zero-padded conv; measured slower anyway (above).
- StyleGAN2 modulation at large batch: the export already modulates activations (one shared conv weight for the
  whole batch); per-sample weights (grouped conv) would be a dynamic weight, which ONNX Runtime's blocked conv
  kernels do not take (the NCHW path is 1.33x slower, above).
"""


# --- inputs ----------------------------------------------------------------------------------


def condition_inputs(manifest: dict, n: int) -> dict:
    """Keyword inputs for n images: labels for class models, embeddings for text models."""
    from zoo_runtime.latents import make_labels

    cond = manifest["conditioning"]
    if cond["kind"] == "class":
        return {"labels": make_labels(n, cond["num_classes"], 0)}
    if cond["kind"] == "text":
        rng = np.random.default_rng(0)
        emb = rng.standard_normal((n, cond["text_dim"])).astype(np.float32)
        emb /= np.linalg.norm(emb, axis=1, keepdims=True)
        length = int(cond.get("text_tokens") or 0)
        if length:  # a token model reads the packed [pooled | tokens | mask] row; 6 tokens, like a short prompt
            from zoo_runtime.text.tokens import pack_condition

            tokens = rng.standard_normal((n, length, int(cond["text_token_dim"]))).astype(np.float32)
            tokens /= np.linalg.norm(tokens, axis=2, keepdims=True)
            mask = np.arange(length)[None, :].repeat(n, 0) < min(6, length)
            emb = pack_condition(emb, tokens, mask)
        return {"embeddings": emb}
    return {}


# --- engines: (weights, packages, manifest) -> fn(z, cond) -> uint8 [N, H, W, C], in a worker --


def _torch_module(weights: str):
    import torch

    import zoo

    model = zoo.load(weights).eval()

    class TorchImages(torch.nn.Module):
        """G plus the post-processing zoo_runtime does in its graph (scale, clamp, uint8, NHWC)."""

        def __init__(self, generator):
            super().__init__()
            self.g = generator

        def forward(self, z, c=None):
            x = self.g(z, c)
            return ((x + 1) * 127.5 + 0.5).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()

    return TorchImages(model.generator.eval()).eval()


def _torch_fn(module):
    import torch

    def run(z, cond):
        c = cond.get("labels", cond.get("embeddings"))
        with torch.inference_mode():
            return module(torch.from_numpy(z), None if c is None else torch.from_numpy(c)).numpy()

    return run


def engine_eager(weights, packages, manifest):
    return _torch_fn(_torch_module(weights))


def engine_compile(weights, packages, manifest):
    import torch

    return _torch_fn(torch.compile(_torch_module(weights), dynamic=False))


def _runtime(precision):
    def make(weights, packages, manifest):
        import zoo_runtime  # no torch in this worker: what an application runs

        gen = zoo_runtime.load(packages[precision], providers="cpu", threads=int(os.environ["BENCH_THREADS"]))
        return lambda z, cond: gen.generate(z=z, **cond)

    return make


ENGINES = {
    "PyTorch eager": engine_eager,
    "torch.compile": engine_compile,
    "zoo_runtime fp32": _runtime("fp32"),
    "zoo_runtime int8": _runtime("int8"),
}


# --- the worker: one engine, one round ------------------------------------------------------------


def _timed_both(fn) -> tuple[float, float]:
    """(wall seconds, this process's CPU seconds): with one thread per engine the CPU time is the work
    done, whatever share of a core a loaded machine gave the process meanwhile."""
    t, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t, time.process_time() - c


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def worker(args) -> None:
    """Measure one engine: batch-1 call times and batch-N run times, printed as JSON."""
    os.environ["BENCH_THREADS"] = str(args.threads)
    if not args.engine.startswith("zoo_runtime"):
        import torch

        torch.set_num_threads(args.threads)
    from zoo_runtime.latents import make_latents
    from zoo_runtime.package import read_manifest

    packages = {"fp32": args.fp32, "int8": args.int8}
    manifest = read_manifest(args.fp32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fn = ENGINES[args.engine](args.weights, packages, manifest)
    latent = manifest["latent_dim"]
    z1, zb = make_latents(1, latent, 1), make_latents(args.batch, latent, 2)
    c1, cb = condition_inputs(manifest, 1), condition_inputs(manifest, args.batch)
    for _ in range(5):  # warm-up (and compilation) before timing
        fn(z1, c1)
    for _ in range(args.batch_warmup):
        fn(zb, cb)
    zm, cm = make_latents(args.mid_batch, latent, 3), condition_inputs(manifest, args.mid_batch)
    fn(zm, cm)
    out = {}
    for key, (z, c, count) in {
        "latencies": (z1, c1, args.latency_calls),
        "mid_times": (zm, cm, 2 * args.batch_runs),
        "batch_times": (zb, cb, args.batch_runs),
    }.items():
        pairs = [_timed_both(lambda: fn(z, c)) for _ in range(count)]
        out[key], out[key + "_cpu"] = [w for w, _ in pairs], [c for _, c in pairs]
    print(json.dumps(out))


def run_worker(engine: str, weights: Path, packages: dict, threads: int, args) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        "--engine",
        engine,
        "--weights",
        str(weights),
        "--fp32",
        str(packages["fp32"]),
        "--int8",
        str(packages["int8"] or ""),
        "--threads",
        str(threads),
        "--batch",
        str(args.batch),
        "--mid-batch",
        str(args.mid_batch),
        "--latency-calls",
        str(args.latency_calls),
        "--batch-runs",
        str(args.batch_runs),
        "--batch-warmup",
        str(args.batch_warmup),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"worker {engine} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- measuring --------------------------------------------------------------------------------


def matmul_gflops(threads: int, previous: dict | None = None) -> dict:
    """This machine's fp32 matmul rate with `threads` threads: best of numpy (BLAS) and torch sgemm
    at 1024 and 2048, measured in a fresh process (BLAS reads its thread count at import).

    Called several times during the run (before, between and after the models) and the best
    kept: on a shared machine one measurement can land in a burst of other load, which would
    lower the roofline and flatter every engine measured against it."""
    env = {**os.environ, **{k: str(threads) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}}
    out = subprocess.run(
        [sys.executable, __file__, "--matmul-worker", "--threads", str(threads)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    rates = dict((previous or {}).get("measurements", {}))
    for key, rate in json.loads(out.stdout.strip().splitlines()[-1]).items():
        rates[key] = max(rates.get(key, 0.0), rate)
    return matmul_summary(rates, threads, (previous or {}).get("samples", 0) + 1)


def matmul_summary(rates: dict, threads: int, samples: int) -> dict:
    """The roofline is the best BLAS rate (numpy, torch). ONNX Runtime's own sgemm (its MLAS kernels) is kept
    beside it, not in it: the ceiling its kernels reach on this CPU (on an AVX-512 Xeon about 0.75-0.85x of
    MKL's rate)."""
    ort_rates = [r for k, r in rates.items() if k.startswith("onnxruntime")]
    return {
        "gflops": max(r for k, r in rates.items() if not k.startswith("onnxruntime")),
        "onnxruntime_gflops": max(ort_rates, default=None),
        "threads": threads,
        "measurements": rates,
        "samples": samples,
    }


def matmul_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    rates = {}
    for n in (1024, 2048):
        a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
        ta = torch.from_numpy(a)
        for lib, fn in (("numpy", lambda: a @ a), ("torch", lambda: ta @ ta)):
            fn()
            pairs = [_timed_both(fn) for _ in range(5)]
            rates[f"{lib} sgemm {n}"] = round(2 * n**3 / min(w for w, _ in pairs) / 1e9, 1)
            if threads == 1:  # per CPU-second, the basis the 1-thread engines are judged on
                rates[f"{lib} sgemm {n} per CPU-second"] = round(2 * n**3 / min(c for _, c in pairs) / 1e9, 1)
        run = onnxruntime_matmul(n, threads)
        pairs = [_timed_both(lambda: run(a)) for _ in range(5)]
        rates[f"onnxruntime sgemm {n}"] = round(2 * n**3 / min(w for w, _ in pairs) / 1e9, 1)
        if threads == 1:
            rates[f"onnxruntime sgemm {n} per CPU-second"] = round(2 * n**3 / min(c for _, c in pairs) / 1e9, 1)
    print(json.dumps(rates))


def onnxruntime_matmul(n: int, threads: int):
    """a -> a @ a through an ONNX Runtime session on the CPU: the sgemm its own kernels reach."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    square = helper.make_tensor_value_info("a", TensorProto.FLOAT, [n, n])
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "a"], ["y"])],
        "sgemm",
        [square],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, n])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    session.run(None, {"a": np.zeros((n, n), np.float32)})
    return lambda a: session.run(None, {"a": a})


def summarize(samples: dict, batch: int, mid: int) -> dict:
    out = {}
    for name, s in samples.items():
        lat, thr = s["latencies"], s["batch_times"]
        out[name] = {
            "b1_p50_ms": 1e3 * float(np.percentile(lat, 50)),
            f"b{mid}_images_per_s": mid / min(s["mid_times"]),
            "b1_cpu_p50_ms": 1e3 * float(np.percentile(s["latencies_cpu"], 50)),
            f"b{mid}_images_per_cpu_s": mid / max(min(s["mid_times_cpu"]), 1e-9),
            f"b{batch}_images_per_cpu_s": batch / max(min(s["batch_times_cpu"]), 1e-9),
            "b1_p99_ms": 1e3 * float(np.percentile(lat, 99)),
            "b1_min_ms": 1e3 * min(lat),
            f"b{batch}_images_per_s": batch / min(thr),  # best run: what the code can do
            f"b{batch}_images_per_s_median": batch / statistics.median(thr),
            "b1_calls": len(lat),
            f"b{batch}_runs": len(thr),
        }
    return out


def cold_start(cmd: list[str], repeat: int, env: dict) -> dict:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        times.append(time.perf_counter() - t)
    return {"median_s": statistics.median(times), "min_s": min(times), "runs": repeat}


def machine(threads: int) -> dict:
    import onnxruntime
    import torch

    cpu = platform.processor() or "?"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "threads": threads,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
    }


# --- main ---------------------------------------------------------------------------------------


# Rows that are a registered arch at another config: name -> (arch, config overrides). The 256 px StyleGAN2 is
# the zoo's own stylegan2 (stylegan2_64's channel widths, 16 at 256 px doubling to 128) at 256 px with random
# weights, about 4 GFLOP/image: batch 64 stays measurable on one shared core. NVlabs' FFHQ 256 layout (30
# GFLOP/image) is measured at batch 1 and 8 by benchmarks/runtime_import.py.
ALIASES = {"stylegan2_256": ("stylegan2_64", {"resolution": 256})}


def build(name: str, workdir: Path, quality_n: int = 256, int8: bool = True) -> tuple:
    """Fp32 and int8 packages and a weights file of one model: pretrained when the name has a tag,
    else a fixed-seed random init (speed does not depend on the values)."""
    import torch

    import zoo
    from zoo.exporting import ExportError

    torch.manual_seed(0)
    arch, overrides = ALIASES.get(name, (name, {}))
    _, tag = zoo.registry.split_name(arch)
    model = zoo.create_model(arch, pretrained=tag is not None, **overrides).eval()
    packages = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for precision in ("fp32", "int8") if int8 else ("fp32",):
            try:
                packages[precision] = zoo.export(
                    model, workdir / f"{name}-{precision}", precision=precision, progress=False, quality_n=quality_n
                )
            except ExportError as err:
                if precision == "fp32":
                    raise
                # int8 refused by its own quality gate: measure the other engines, say why in the JSON.
                print(f"{name}: no int8 row, the export refused it: {str(err).splitlines()[0]}", flush=True)
                packages["int8"] = None
                packages["int8_refused"] = str(err).splitlines()[0]
    if not int8:
        packages["int8"], packages["int8_refused"] = None, "not measured (no int8 engine in --engines)"
    weights = workdir / f"{name}.safetensors"
    zoo.save(model, weights)
    return packages, weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--models",
        default="dcgan32,dcgan64,stylegan2_64.shapes",
        help="comma-separated registered names, or " + ", ".join(ALIASES),
    )
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated: " + ", ".join(ENGINES))
    parser.add_argument("--threads", type=int, help="threads for every engine (default: physical cores)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--mid-batch", type=int, default=8, help="a middle batch size, throughput measured too")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-calls", type=int, default=100, help="batch-1 calls per engine per round")
    parser.add_argument("--batch-runs", type=int, default=6, help="batch runs per engine per round")
    parser.add_argument("--batch-warmup", type=int, default=2, help="untimed batch runs first (compilation)")
    parser.add_argument("--cold-repeat", type=int, default=7, help="0 skips the cold-start rows")
    parser.add_argument("--quality-n", type=int, default=256, help="images for the int8 package's FID against fp32")
    parser.add_argument(
        "--prompt-encoders",
        default="hash,minilm",
        help="text encoders for the prompt-to-image latency rows ('' skips them)",
    )
    parser.add_argument("--out", default="benchmarks/results/runtime", help="writes OUT.json and OUT.md")
    parser.add_argument("--merge", help="comma-separated JSON files of earlier runs: write their one table to OUT")
    parser.add_argument("--readme", action="store_true", help="put the table into README.md (between markers)")
    parser.add_argument(
        "--append",
        action="store_true",
        help="keep the other models already in OUT.json (a row added later keeps its own load note)",
    )
    # worker mode (internal): one engine, one round
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--matmul-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--engine", help=argparse.SUPPRESS)
    parser.add_argument("--weights", help=argparse.SUPPRESS)
    parser.add_argument("--fp32", help=argparse.SUPPRESS)
    parser.add_argument("--int8", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    if args.matmul_worker:
        matmul_worker(args.threads)
        return
    if args.merge:
        merge_results([p for p in args.merge.split(",") if p], Path(args.out), args.batch)
        return

    import zoo_runtime
    from zoo_runtime.providers import physical_cores

    threads = args.threads or physical_cores()
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = [e for e in engines if e not in ENGINES]
    if unknown:
        sys.exit(f"unknown engines {unknown}; known: {list(ENGINES)}")
    load_before = os.getloadavg()
    # a run cut short by `timeout` (SIGTERM) still removes its work folder (the finally below)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    workdir = Path(tempfile.mkdtemp(prefix="zoo-bench-runtime-"))
    result = {
        "machine": machine(threads),
        "load_average_before": [round(x, 2) for x in load_before],
        "batch": args.batch,
        "models": {},
    }
    print(f"machine: {result['machine']}; load average {load_before}", flush=True)
    result["matmul"] = matmul_gflops(threads)
    try:
        for name in [m.strip() for m in args.models.split(",") if m.strip()]:
            load_at_start = round(os.getloadavg()[0], 2)
            packages, weights = build(name, workdir, args.quality_n, "zoo_runtime int8" in engines)
            manifest = zoo_runtime.read_manifest(packages["fp32"])
            model_engines = [e for e in engines if packages["int8"] is not None or e != "zoo_runtime int8"]
            samples = {
                e: {
                    k: []
                    for k in (
                        "latencies",
                        "mid_times",
                        "batch_times",
                        "latencies_cpu",
                        "mid_times_cpu",
                        "batch_times_cpu",
                    )
                }
                for e in model_engines
            }
            for r in range(args.rounds):
                for engine in model_engines:
                    got = run_worker(engine, weights, packages, threads, args)
                    for key in (
                        "latencies",
                        "mid_times",
                        "batch_times",
                        "latencies_cpu",
                        "mid_times_cpu",
                        "batch_times_cpu",
                    ):
                        samples[engine][key] += got[key]
                    print(
                        f"{name} round {r + 1}/{args.rounds} {engine}: b1 p50 "
                        f"{1e3 * statistics.median(got['latencies']):.2f} ms, b{args.batch} "
                        f"{args.batch / min(got['batch_times']):.0f} images/s",
                        flush=True,
                    )
                    if r == args.rounds - 1:  # the engines done so far are kept if the run is cut short
                        done = {e: v for e, v in samples.items() if v["latencies"]}
                        result["models"][name] = {
                            "load_average": [load_at_start, round(os.getloadavg()[0], 2)],  # model start, end
                            "flops_per_image": manifest["cost"]["flops_per_image"],
                            "int8_quantized": (
                                read_int8(packages["int8"])
                                if packages["int8"]
                                else {"refused": packages["int8_refused"]}
                            ),
                            "engines": summarize(done, args.batch, args.mid_batch),
                        }
                        write_result(result, args, threads, final=False)
                if r < args.rounds - 1:  # between rounds; after the last, once the model is written
                    result["matmul"] = matmul_gflops(threads, result["matmul"])
            result["matmul"] = matmul_gflops(threads, result["matmul"])
            write_result(result, args, threads, final=False)
            if args.cold_repeat == 0:  # throughput-only run
                continue
            env = {**os.environ, "GAN_ZOO_HOME": os.environ.get("GAN_ZOO_HOME", str(workdir / "home"))}
            png = str(workdir / "cold.png")
            zoo_cli = shutil.which("zoo") or sys.exit("the `zoo` console script is not installed")
            result["models"][name]["cold_start"] = {
                "python -m zoo_runtime PKG -n 1": cold_start(
                    [sys.executable, "-m", "zoo_runtime", str(packages["fp32"]), "-n", "1", "--out", png],
                    args.cold_repeat,
                    env,
                ),
                "zoo sample WEIGHTS -n 1 (PyTorch)": cold_start(
                    [zoo_cli, "sample", str(weights), "-n", "1", "--out", png], max(3, args.cold_repeat // 2), env
                ),
                "python -c pass (interpreter floor)": cold_start([sys.executable, "-c", "pass"], args.cold_repeat, env),
            }
        if args.prompt_encoders.strip():
            result["prompt_to_image"] = prompt_latency(args.prompt_encoders, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result["matmul"] = matmul_gflops(threads, result["matmul"])
    write_result(result, args, threads, final=True)


def write_result(result: dict, args, threads: int, final: bool) -> None:
    """OUT.json and OUT.md for the models measured so far (called after each model, so a run cut
    short by its time bound keeps what it measured; `partial` says so in the JSON)."""
    result["mid_batch"] = args.mid_batch
    result["basis"] = "cpu" if threads == 1 else "wall"
    result["partial"] = not final
    for m in result["models"].values():  # against the best matmul rate seen so far in this run
        m["roofline_images_per_s"] = result["matmul"]["gflops"] * 1e9 / m["flops_per_image"]
        for row in m["engines"].values():
            row["roofline_fraction"] = (
                row[basis_keys(result["basis"], args.batch, args.mid_batch)["big"]] / m["roofline_images_per_s"]
            )
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    out = Path(args.out)
    merged = dict(result)
    if args.append and out.with_name(out.name + ".json").exists():
        previous = json.loads(out.with_name(out.name + ".json").read_text())
        merged["models"] = {
            **{k: v for k, v in previous.get("models", {}).items() if k not in result["models"]},
            **result["models"],
        }
        if "prompt_to_image" not in result and "prompt_to_image" in previous:
            merged["prompt_to_image"] = previous["prompt_to_image"]
    merged["goals"] = goals(merged, args.batch)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_name(out.name + ".json").write_text(json.dumps(merged, indent=2))
    table = markdown(merged, args.batch)
    out.with_name(out.name + ".md").write_text(table)
    if final:
        print(table)
        if args.readme:
            update_readme(Path(__file__).resolve().parents[1] / "README.md", table)


def merge_results(paths: list[str], out: Path, batch: int) -> None:
    """One table from several runs' JSON (models measured in separate, bounded runs): each model keeps
    its own run's roofline rate and load; the header gives the range over the runs."""
    runs = [json.loads(Path(p).read_text()) for p in paths]
    merged = dict(runs[0])
    merged["models"] = {k: v for r in runs for k, v in r["models"].items()}
    merged["load_average_before"] = [min(r["load_average_before"][0] for r in runs)]
    merged["load_average_after"] = [max(r["load_average_after"][0] for r in runs)]
    merged["matmul"] = dict(max((r["matmul"] for r in runs), key=lambda m: m["gflops"]))
    merged["matmul"]["samples"] = sum(r["matmul"]["samples"] for r in runs)
    ort_rates = [r["matmul"]["onnxruntime_gflops"] for r in runs if r["matmul"].get("onnxruntime_gflops")]
    merged["matmul"]["onnxruntime_gflops"] = max(ort_rates, default=None)
    merged["merged_from"] = [str(p) for p in paths]
    merged["partial"] = any(r.get("partial") for r in runs)
    merged["goals"] = goals(merged, batch)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_name(out.name + ".json").write_text(json.dumps(merged, indent=2))
    table = markdown(merged, batch)
    out.with_name(out.name + ".md").write_text(table)
    print(table)


def prompt_latency(encoders: str, workdir: Path) -> dict:
    """benchmarks/text_latency.py in a worker process. Its engines share one process (as an
    application's encoder and generator do), so each gets one thread: two spin-waiting thread pools
    (torch's OpenMP, ONNX Runtime's) in one process would steal the cores from each other."""
    out = workdir / "text_latency"
    script = Path(__file__).resolve().parent / "text_latency.py"
    subprocess.run(
        [sys.executable, str(script), "--encoders", encoders, "--threads", "1", "--out", str(out)], check=True
    )
    return json.loads(out.with_suffix(".json").read_text())


def read_int8(pkg: Path) -> dict:
    import zoo_runtime

    m = zoo_runtime.read_manifest(pkg)
    return {
        "quantized": m["quantization"]["quantized_nodes"],
        "left_float": m["quantization"]["left_float"],
        "fid_int8_vs_fp32": m["quality"].get("fid_int8_vs_fp32"),
        "pixel_mae": m["quality"]["pixel_mae"],
    }


def basis_keys(basis: str, batch: int, mid: int) -> dict:
    """Which figures the goals judge: CPU time with one thread per engine (robust on a loaded machine:
    the work each engine does), else wall time."""
    if basis == "cpu":
        return {"b1": "b1_cpu_p50_ms", "mid": f"b{mid}_images_per_cpu_s", "big": f"b{batch}_images_per_cpu_s"}
    return {"b1": "b1_p50_ms", "mid": f"b{mid}_images_per_s", "big": f"b{batch}_images_per_s"}


def goals(result: dict, batch: int) -> list[dict]:
    mid = result.get("mid_batch", 8)
    k = basis_keys(result.get("basis", "wall"), batch, mid)
    unit = " per CPU-second" if result.get("basis") == "cpu" else ""
    out = []
    for name, m in result["models"].items():
        e = m["engines"]
        rt = e.get("zoo_runtime fp32")
        if rt is None:
            continue
        if "PyTorch eager" in e and k["b1"] in e["PyTorch eager"]:
            x = e["PyTorch eager"][k["b1"]] / rt[k["b1"]]
            out.append(
                {"model": name, "goal": "batch 1 >= 1.5x faster than eager", "measured": f"{x:.2f}x", "met": x >= 1.5}
            )
        tc = e.get("torch.compile")
        if tc is not None and k["b1"] in tc:
            x = tc[k["b1"]] / rt[k["b1"]]
            out.append(
                {
                    "model": name,
                    "goal": "fp32 >= torch.compile at batch 1 (p50 latency)",
                    "measured": f"{x:.2f}x",
                    "met": x >= 1.0,
                }
            )
            for b, key in ((mid, k["mid"]), (batch, k["big"])):
                if key in rt and key in tc:
                    x = rt[key] / tc[key]
                    out.append(
                        {
                            "model": name,
                            "goal": f"fp32 >= torch.compile at batch {b} (images/s{unit})",
                            "measured": f"{x:.2f}x",
                            "met": x >= 1.0,
                        }
                    )
        frac = rt["roofline_fraction"]
        out.append(
            {
                "model": name,
                "goal": f"batch {batch} at >= 80% of the roofline (fp32)",
                "measured": f"{100 * frac:.0f}% of roofline",
                "met": frac >= 0.8,
            }
        )
        refused = (m.get("int8_quantized") or {}).get("refused")
        if refused and "zoo_runtime int8" not in e:  # the export's own gate said no: a miss, with its reason
            reason = refused.split(";")[0]
            out.append({"model": name, "goal": "int8 >= 1.8x fp32 throughput", "measured": reason, "met": False})
        if "zoo_runtime int8" in e and k["big"] in e["zoo_runtime int8"]:
            x = e["zoo_runtime int8"][k["big"]] / rt[k["big"]]
            fid = (m.get("int8_quantized") or {}).get("fid_int8_vs_fp32")
            out.append(
                {
                    "model": name,
                    "goal": "int8 >= 1.8x fp32 throughput",
                    "measured": f"{x:.2f}x"
                    + (f" (FID int8 vs fp32 {fid:.2f})" if isinstance(fid, (int, float)) else ""),
                    "met": x >= 1.8,
                }
            )
        cold = m.get("cold_start", {}).get("python -m zoo_runtime PKG -n 1")
        if cold:
            out.append(
                {
                    "model": name,
                    "goal": "cold start < 0.5 s",
                    "measured": f"{cold['median_s']:.2f} s",
                    "met": cold["median_s"] < 0.5,
                }
            )
    return out


def onnxruntime_sgemm_note(matmul: dict) -> str:
    """The header's note of ONNX Runtime's own sgemm rate, where the run measured it."""
    rate = matmul.get("onnxruntime_gflops")
    if not rate:
        return ""
    return (
        f" ONNX Runtime's own sgemm reached {rate:.0f} GFLOP/s ({100 * rate / matmul['gflops']:.0f}% of the "
        "roofline): its kernels' ceiling on this CPU."
    )


def markdown(result: dict, batch: int) -> str:
    mc = result["machine"]
    mid = result.get("mid_batch", 8)
    lines = [
        f"Measured by `python benchmarks/runtime.py` on {mc['cpu']} ({mc['logical_cpus']} logical CPUs, "
        f"{mc['threads']} threads per engine, each engine in its own process), torch {mc['torch']}, "
        f"onnxruntime {mc['onnxruntime']}. The machine was shared with other work: load average "
        f"{result['load_average_before'][0]} before, {result['load_average_after'][0]} after. Matmul rate "
        f"(roofline): {result['matmul']['gflops']:.0f} GFLOP/s with {mc['threads']} threads (best sgemm of "
        f"{result['matmul']['samples']} measurements spread over the run)." + onnxruntime_sgemm_note(result["matmul"]),
        "",
    ]
    if result.get("basis") == "cpu":
        lines += [
            "One thread per engine, so each is judged on **CPU time** (this process's CPU seconds per call): "
            "the work it does, whatever share of a core the loaded machine gave it. Wall times are beside "
            "it; on a machine this busy they are mostly waiting.",
            "",
            f"| model | engine | batch 1 CPU p50 (ms) | batch {mid} (images per CPU-s) | batch {batch} (images per "
            f"CPU-s) | % of roofline | batch 1 wall p50 (ms) | batch {batch} wall best (images/s) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, m in result["models"].items():
            for engine, r in m["engines"].items():
                lines.append(
                    f"| {name} ({m['flops_per_image'] / 1e6:.0f} MFLOP/image, load {m['load_average'][0]:.1f}) "
                    f"| {engine} | {r['b1_cpu_p50_ms']:.2f} | {r[f'b{mid}_images_per_cpu_s']:.0f} | "
                    f"{r[f'b{batch}_images_per_cpu_s']:.0f} | {100 * r['roofline_fraction']:.0f}% | "
                    f"{r['b1_p50_ms']:.2f} | {r[f'b{batch}_images_per_s']:.0f} |"
                )
    else:
        lines += [
            f"| model | engine | batch 1 p50 (ms) | batch 1 p99 (ms) | batch {mid} best (images/s) | "
            f"batch {batch} best (images/s) | batch {batch} median (images/s) | % of roofline (best) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, m in result["models"].items():
            for engine, r in m["engines"].items():
                lines.append(
                    f"| {name} ({m['flops_per_image'] / 1e6:.0f} MFLOP/image, load {m['load_average'][0]:.1f}) "
                    f"| {engine} | {r['b1_p50_ms']:.2f} | {r['b1_p99_ms']:.2f} | "
                    f"{r.get(f'b{mid}_images_per_s', float('nan')):.0f} | {r[f'b{batch}_images_per_s']:.0f} | "
                    f"{r[f'b{batch}_images_per_s_median']:.0f} | {100 * r['roofline_fraction']:.0f}% |"
                )
    lines += ["", "| model | cold start: fresh process to first PNG | median (s) | min (s) |", "|---|---|---|---|"]
    for name, m in result["models"].items():
        for what, c in m.get("cold_start", {}).items():
            lines.append(f"| {name} | `{what}` | {c['median_s']:.2f} | {c['min_s']:.2f} |")
    prompt = result.get("prompt_to_image")
    if prompt:
        lines += [
            "",
            f"Prompt to image at batch 1, text encoder included ({prompt['threads']} thread per engine, load average "
            f"{prompt['load_average'][0]}):",
            "",
            "| encoder (model) | path | p50 (ms) | p90 (ms) |",
            "|---|---|---|---|",
        ]
        for b in prompt["benchmarks"]:
            for path, r in b["rows"].items():
                lines.append(f"| {b['encoder']} ({b['model']}) | {path} | {r['p50_ms']:.2f} | {r['p90_ms']:.2f} |")
        lines += [""] + [
            f"- {b['encoder']}: zoo_runtime {b['runtime_speedup_p50']}x faster than PyTorch at p50, "
            f"package {b['package_mb']} MB"
            for b in prompt["benchmarks"]
        ]
    lines += ["", "| model | goal | measured | met |", "|---|---|---|---|"]
    for g in result["goals"]:
        lines.append(f"| {g['model']} | {g['goal']} | {g['measured']} | {'yes' if g['met'] else '**no**'} |")
    lines += ["", NOTES]
    return "\n".join(lines) + "\n"


def update_readme(readme: Path, table: str) -> None:
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        print(f"README.md has no {README_START} ... {README_END} markers; table not inserted", file=sys.stderr)
        return
    new = re.sub(
        re.escape(README_START) + r".*?" + re.escape(README_END),
        lambda _: f"{README_START}\n{table}{README_END}",
        text,
        flags=re.S,
    )
    tmp = readme.with_suffix(".md.tmp")
    tmp.write_text(new)
    os.replace(tmp, readme)


if __name__ == "__main__":
    main()
