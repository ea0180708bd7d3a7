"""The export's gate: ONNX Runtime against PyTorch on fresh random inputs, at two batch sizes.

What is compared, exactly (the numbers go into manifest["parity"]):
- float: the exported core's float32 output [n, C, H, W] (before post-processing, after the
  fp16/int8 conversion) against the PyTorch generator's output on the same inputs:
  `float_max_abs` = max |onnx - torch|, `float_mean_abs` = mean |onnx - torch|, in [-1, 1] units.
- uint8: the shipped graph's output [n, H, W, C] against `zoo.images.to_uint8(torch output)`:
  `uint8_max_levels` = max |difference| in pixel levels, `uint8_mismatch_fraction` = share of
  pixel values that differ at all.
Inputs: z ~ N(0, 1), labels uniform, unit-norm embeddings, truncation in [0.5, 1], drawn from a fixed
seed (PARITY_SEED, apart from the calibration's), so a model gets the same verdict on every export;
batch sizes 1 and 5 (the graph was traced at batch 2, so both test the dynamic batch). int8 is gated
on a mean, and a mean of 6 images is too noisy to gate on: 12 seeds gave 0.029-0.071 for one tiny
random StyleGAN2 whose mean over 64 images is 0.048. So int8 adds batches (at most `images_per_run`
each, for memory) up to INT8_PARITY_IMAGES images.

A text model whose encoder is available is also checked on 16 conditions its encoder makes from prompts
(zoo.exporting.prompts): they join every measure above, and for int8 their own mean error
(`prompt_float_mean_abs`) is gated too, since random embeddings can pass where real prompts clip.

Tolerances per precision (an export above any of them fails and writes nothing):
    fp32: float_max_abs <= 1e-3,  uint8_max_levels <= 1   (typically ~1e-6 and 0)
    fp16: float_max_abs <= 5e-2,  uint8_max_levels <= 8
    int8: float_mean_abs <= 5e-2, uint8 not gated (quantisation moves single pixels a lot; the
          quality cost is measured separately as a FID difference, see `int8_quality`)
"""

from __future__ import annotations

import numpy as np
import onnx
import torch

from zoo.exporting.graph import FLOAT_OUTPUT, example_inputs, graph_token_shape, token_shape
from zoo_runtime.package import OUTPUT_IMAGES

TOLERANCES = {
    "fp32": {"float_max_abs": 1e-3, "uint8_max_levels": 1},
    "fp16": {"float_max_abs": 5e-2, "uint8_max_levels": 8},
    "int8": {"float_mean_abs": 5e-2},
}
PARITY_BATCH_SIZES = (1, 5)
PARITY_SEED = 7_000  # calibration uses seeds from 10_000, the int8 quality run seed 0
INT8_PARITY_IMAGES = 32


class ExportError(RuntimeError):
    """The exported graph does not match PyTorch within the tolerance, or could not be built."""


def cpu_session(model: onnx.ModelProto):
    """A CPU session with the runtime's own options (what the check measures is what runs)."""
    import onnxruntime as ort

    from zoo_runtime.providers import session_options

    return ort.InferenceSession(model.SerializeToString(), session_options(), providers=["CPUExecutionProvider"])


def torch_outputs(core: torch.nn.Module, names: list[str], feeds: dict[str, np.ndarray]) -> np.ndarray:
    with torch.no_grad():
        return core(*(torch.from_numpy(feeds[n]) for n in names)).float().numpy()


def parity(
    core: torch.nn.Module,
    core_model: onnx.ModelProto,
    final_model: onnx.ModelProto,
    names: list[str],
    latent_dim: int,
    num_classes: int,
    text_dim: int,
    precision: str,
    batch_sizes: tuple[int, ...] = PARITY_BATCH_SIZES,
    seed: int = PARITY_SEED,
    prompts: list[dict[str, np.ndarray]] = (),
) -> dict:
    """Measure (see the module docstring) and gate; returns the manifest's "parity" entry. A text model's
    `prompts` batches (zoo.exporting.prompts: conditions from real prompts) are measured and gated with the rest."""
    from zoo.images import to_uint8

    core_session, final_session = cpu_session(core_model), cpu_session(final_model)
    float_max = float_sum = 0.0
    float_count = 0
    u8_max, u8_diff, u8_count = 0, 0, 0
    random_batches = (
        example_inputs(names, latent_dim, num_classes, text_dim, n, seed=seed + i, tokens=token_shape(core.g))
        for i, n in enumerate(batch_sizes)
    )
    prompt_sum = prompt_count = 0.0
    for feeds, from_prompts in [*((f, False) for f in random_batches), *((f, True) for f in prompts)]:
        n = len(feeds[names[0]])
        expected = torch_outputs(core, names, feeds)  # [n, C, H, W]
        got = core_session.run([FLOAT_OUTPUT], feeds)[0]
        images = final_session.run([OUTPUT_IMAGES], feeds)[0]  # uint8 [n, H, W, C]
        want = to_uint8(expected)
        if got.shape != expected.shape or images.shape != want.shape or images.dtype != np.uint8:
            raise ExportError(
                f"at batch {n} the graph gives {list(got.shape)} / {images.dtype} {list(images.shape)}, "
                f"PyTorch {list(expected.shape)} / uint8 {list(want.shape)}"
            )
        err = np.abs(got.astype(np.float64) - expected)
        if not np.isfinite(err).all():
            raise ExportError(f"the {precision} graph produced NaN or inf at batch {n}")
        float_max = max(float_max, float(err.max()))
        float_sum += float(err.sum())
        float_count += err.size
        if from_prompts:
            prompt_sum, prompt_count = prompt_sum + float(err.sum()), prompt_count + err.size
        levels = np.abs(images.astype(np.int16) - want.astype(np.int16))
        u8_max = max(u8_max, int(levels.max()))
        u8_diff += int((levels > 0).sum())
        u8_count += levels.size
    result = {
        "compared": "float: exported core output vs PyTorch generator output (before post-processing); "
        "uint8: shipped graph output vs zoo.images.to_uint8(PyTorch output)",
        "precision": precision,
        "batch_sizes": list(batch_sizes),
        "seed": seed,
        "prompt_images": int(sum(len(f[names[0]]) for f in prompts)),
        "provider": "CPUExecutionProvider",
        "float_max_abs": float_max,
        "float_mean_abs": float_sum / float_count,
        "uint8_max_levels": u8_max,
        "uint8_mismatch_fraction": u8_diff / u8_count,
        "tolerance": dict(TOLERANCES[precision]),
    }
    limits = dict(TOLERANCES[precision])
    if prompt_count:  # real prompts' conditions are gated on their own: random ones can hide a clipped range
        result["prompt_float_mean_abs"] = prompt_sum / prompt_count
        if "float_mean_abs" in limits:
            limits["prompt_float_mean_abs"] = limits["float_mean_abs"]
    over = [f"{k} = {result[k]:.3g} > {limit}" for k, limit in limits.items() if result[k] > limit]
    result["passed"] = not over
    if over:
        raise ExportError(
            f"the {precision} ONNX graph does not match PyTorch: {', '.join(over)} "
            f"(batch sizes {list(batch_sizes)}, seed {seed}); nothing was written. "
            "If this is fp16/int8, try fp32; otherwise report it with the model name"
        )
    return result


def mean_abs_errors(
    reference: onnx.ModelProto, candidates: dict[str, onnx.ModelProto], feeds: list[dict[str, np.ndarray]]
) -> dict[str, float]:
    """Mean |candidate - reference| of the float output over the batches `feeds`, per candidate."""

    def outputs(model):
        session = cpu_session(model)
        return [session.run([FLOAT_OUTPUT], f)[0].astype(np.float64) for f in feeds]

    want = outputs(reference)
    errors = {}
    for name, model in candidates.items():
        got = outputs(model)
        errors[name] = float(sum(np.abs(g - w).sum() for g, w in zip(got, want)) / sum(w.size for w in want))
    return errors


def parity_batch_sizes(precision: str, per_run: int) -> tuple[int, ...]:
    """PARITY_BATCH_SIZES, and for int8 more batches of at most `per_run` up to INT8_PARITY_IMAGES images."""
    sizes = list(PARITY_BATCH_SIZES)
    while precision == "int8" and sum(sizes) < INT8_PARITY_IMAGES:
        sizes.append(min(per_run, INT8_PARITY_IMAGES - sum(sizes)))
    return tuple(sizes)


def images_per_run(core: onnx.ModelProto, at_64px: int) -> int:
    """Images per ONNX Runtime run of a generator core: `at_64px` up to 64 x 64 px, fewer for larger images, so
    the activations held at once stay what they are at 64 px (the int8 quality runs of a 256 px StyleGAN2, 128
    images per run, took the export to 14.7 GB)."""
    height, width = (d.dim_value for d in core.graph.output[0].type.tensor_type.shape.dim[2:])
    return max(1, min(at_64px, at_64px * 64 * 64 // max(1, height * width)))


def int8_quality(
    fp32_model: onnx.ModelProto,
    int8_model: onnx.ModelProto,
    names: list[str],
    latent_dim: int,
    num_classes: int,
    text_dim: int,
    n: int = 512,
    seed: int = 0,
    data: str | None = None,
    prompts: list[dict[str, np.ndarray]] = (),
) -> dict:
    """The quality cost of int8 on the same n latents: FID between the fp32 and int8 images in the
    digits feature space (zoo.metrics; 0 means the same distribution), and pixel-space errors.
    With `data` (e.g. "builtin:digits") also FID of each against that data and their difference
    (the cost in the usual sense; slower). Falls back to pixel errors when zoo.metrics is missing.
    A text model's `prompts` batches (conditions from real prompts) add their own pixel error."""
    from zoo_runtime.latents import make_labels, make_latents

    feeds = example_inputs(names, latent_dim, num_classes, text_dim, n, seed=seed, tokens=graph_token_shape(fp32_model))
    feeds["z"] = make_latents(n, latent_dim, seed)
    if "labels" in feeds:
        feeds["labels"] = make_labels(n, num_classes, seed)
    if "truncation" in feeds:
        feeds["truncation"] = np.ones(n, np.float32)
    chunk = images_per_run(fp32_model, 128)

    def images(model):  # the float images for all n feeds, a chunk per run
        session = cpu_session(model)
        runs = (
            session.run([FLOAT_OUTPUT], {k: v[i : i + chunk] for k, v in feeds.items()})[0] for i in range(0, n, chunk)
        )
        return np.concatenate(list(runs))

    fp32, int8 = images(fp32_model), images(int8_model)
    diff = np.abs(fp32.astype(np.float64) - int8)
    quality = {
        "n": n,
        "latent_seed": seed,
        "pixel_mae": float(diff.mean()),
        "pixel_max_abs": float(diff.max()),
        "pixel_psnr_db": float(10 * np.log10(4.0 / max(float((diff**2).mean()), 1e-20))),
    }
    if prompts:
        quality["prompt_n"] = int(sum(len(f[names[0]]) for f in prompts))
        quality["prompt_pixel_mae"] = mean_abs_errors(fp32_model, {"int8": int8_model}, prompts)["int8"]
    try:
        from zoo.metrics import extract_features, fid_from_features, get_feature_extractor
    except ImportError:
        quality["metric"] = "pixel (zoo.metrics not available)"
        return quality
    extractor = get_feature_extractor("digits")
    f32 = extract_features(extractor, torch.from_numpy(fp32), progress=False).numpy()
    f8 = extract_features(extractor, torch.from_numpy(int8), progress=False).numpy()
    quality["metric"] = "fid_digits"
    quality["fid_int8_vs_fp32"] = float(fid_from_features(f32, f8))
    if not data:
        return quality
    try:
        from zoo.data import load_dataset

        real = load_dataset(data, 32, 1).images
        fr = extract_features(extractor, real, progress=False).numpy()
        quality["data"] = data
        quality["fid_fp32_vs_data"] = float(fid_from_features(fr, f32))
        quality["fid_int8_vs_data"] = float(fid_from_features(fr, f8))
        quality["fid_delta_vs_data"] = quality["fid_int8_vs_data"] - quality["fid_fp32_vs_data"]
    except Exception as e:  # noqa: BLE001 -- the comparison against fp32 above is the main number
        quality["fid_vs_data_error"] = f"{type(e).__name__}: {e}"
    return quality
