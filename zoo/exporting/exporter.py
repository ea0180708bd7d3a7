"""`zoo.export(...)`: a model (name, weights file or GAN) -> a verified model package or Triton repository.

Steps: build the model; export the float core with torch.onnx (dynamo); fp16/int8 conversion;
append the uint8 NHWC post-processing; onnx.checker; parity against PyTorch with ONNX Runtime at
two batch sizes (fails above the tolerance, see zoo.exporting.verify); for int8 the quality cost;
the text encoder's files for text models; manifest.json with every file's sha256. Everything is
built in a temporary folder beside the destination and renamed into place at the end, so a
failed export leaves nothing half-written. An existing `--out` is replaced only with `overwrite`
and only when it is provably an earlier export (its manifest and every file verify, nothing else
is in it); its listed files are deleted one by one, so nothing the exporter did not write is lost.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import re
import shutil
import sys
import uuid
import warnings
from pathlib import Path

import onnx

from zoo.exporting.flops import count_macs, count_params
from zoo.exporting.graph import (
    append_postprocess,
    example_inputs,
    export_float_graph,
    input_names,
    io_specs,
    prepare_generator,
    token_shape,
)
from zoo.exporting.prompts import prompt_batches
from zoo.exporting.verify import (
    PARITY_SEED,
    TOLERANCES,
    ExportError,
    images_per_run,
    int8_quality,
    parity,
    parity_batch_sizes,
)
from zoo_runtime.package import GRAPH, MANIFEST, PIXEL_FORMULA, SCHEMA, SCHEMA_VERSION, sha256_file

PRECISIONS = ("fp32", "fp16", "int8")
FORMATS = ("onnx", "triton")
DEFAULT_OPSET = 18
MIN_OPSET = 18  # the dynamo exporter's own default; older opsets lack ops it emits


def _resolve_model(model, config: dict):
    """A GAN from a GAN, a weights file/run folder, `arch.tag` (pretrained) or `arch` (untrained, warned)."""
    from zoo.factory import resolve_source
    from zoo.model import GAN
    from zoo.sources import locate_source

    if not isinstance(model, GAN):
        model = locate_source(model)  # an unknown name fails here, with close matches
        if model.kind == "name" and model.tag is None:
            spec = model.spec
            trained = (
                f"name a tag ({', '.join(f'{spec.name}.{t}' for t in spec.pretrained)}), a .safetensors file "
                "or a run directory"
                if spec.pretrained
                else f"train it (`zoo train {spec.name} --data ...`) and export the run directory"
            )
            warnings.warn(
                f"{model.text} is an architecture without weights: exporting it untrained (for trained "
                f"weights, {trained})",
                UserWarning,
                stacklevel=3,
            )
            return resolve_source(model, pretrained=False, **config)
    return resolve_source(model, **config)


def _versions() -> dict:
    import onnxruntime
    import onnxscript
    import torch

    import zoo
    import zoo_runtime

    return {
        "zoo": zoo.__version__,
        "zoo_runtime": zoo_runtime.__version__,
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
        "onnxscript": onnxscript.__version__,
        "python": platform.python_version(),
    }


def _prepare_destination(out: Path, format: str, overwrite: bool) -> Path:
    """A fresh temporary folder beside `out`. `out` must be absent, an empty folder, or (with
    `overwrite`) provably an earlier export of this format; anything else is refused untouched."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise ValueError(
            f"{out} exists and is not a folder ({'a symlink' if out.is_symlink() else 'a file'}); "
            "nothing was changed: choose another --out"
        )
    if out.exists() and any(out.iterdir()):
        why = not_an_earlier_export(out, format)
        if why:
            raise ValueError(
                f"{out} exists and is not a model package {'repository ' if format == 'triton' else ''}"
                f"written by zoo export ({why}); it holds {_listing(out)}. Nothing was changed: "
                "choose another --out"
            )
        if not overwrite:
            raise ValueError(
                f"{out} holds an earlier zoo export; pass --overwrite (overwrite=True) to replace it, "
                "or choose another --out"
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(out)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    return tmp


def not_an_earlier_export(out: Path, format: str = "onnx") -> str | None:
    """None when `out` is provably an earlier `zoo export` of `format`: every manifest verifies (sha256
    of every file) and the folder holds exactly the listed files, nothing else, no symlinks; else why not."""
    from zoo_runtime.package import read_manifest

    packages = [out] if format == "onnx" else sorted(out.iterdir())
    if not packages:
        return "it is an empty repository"
    for pkg in packages:
        if pkg.is_symlink() or not pkg.is_dir():
            return f"{pkg.name} is not a model folder"
        if not (pkg / MANIFEST).is_file():
            return f"no {MANIFEST} in {pkg}"
        try:
            manifest = read_manifest(pkg, verify=True)
        except ValueError as e:
            return f"its manifest does not verify: {str(e)[:160]}"
        if manifest.get("format", "onnx") != format:
            return f"{pkg} is a {manifest.get('format', 'onnx')} export, not {format}"
        listed = {*manifest["files"], MANIFEST}
        for path in sorted(pkg.rglob("*")):
            rel = path.relative_to(pkg).as_posix()
            if path.is_symlink():
                return f"{rel} is a symlink"
            if path.is_dir() and not any(f.startswith(rel + "/") for f in listed):
                return f"{rel}/ is not part of the package"
            if not path.is_dir() and rel not in listed:
                return f"{rel} is not part of the package"
    return None


def _listing(folder: Path, limit: int = 5) -> str:
    entries = sorted(folder.iterdir())
    names = [p.name + ("/" if p.is_dir() else "") for p in entries[:limit]]
    return ", ".join(names) + (f" and {len(entries) - limit} more" if len(entries) > limit else "")


def _remove_export(folder: Path) -> None:
    """Delete the files the manifests inside `folder` list (each manifest last, so a kill midway leaves a
    manifest naming the rest), then the folders they leave empty; anything else stays. Symlinks are
    neither followed nor deleted through."""
    root = os.path.realpath(folder)

    def inside(path: Path) -> bool:
        return not path.is_symlink() and os.path.commonpath([root, os.path.realpath(path)]) == root

    manifests = [Path(d) / MANIFEST for d, _, names in os.walk(folder) if MANIFEST in names]  # no symlinked dirs
    for manifest_path in sorted(manifests, key=lambda p: -len(p.parts)):
        if not inside(manifest_path):
            continue
        try:
            listed = json.loads(manifest_path.read_text()).get("files", {})
        except (OSError, ValueError, AttributeError):
            continue
        for rel in listed if isinstance(listed, dict) else ():
            path = manifest_path.parent / str(rel)
            if path.is_file() and inside(path):
                path.unlink()
        manifest_path.unlink()
    for dirpath, _, _ in sorted(os.walk(folder), key=lambda entry: -len(Path(entry[0]).parts)):
        try:
            os.rmdir(dirpath)  # only when empty
        except OSError:
            pass


def _remove_stale_temporaries(out: Path) -> None:
    """Folders an earlier export into `out` left when it was killed (its process is gone): a build
    folder (all ours) or an old package renamed away (only its listed files are deleted)."""
    pattern = re.compile(rf"\.{re.escape(out.name)}\.(tmp|old)-(\d+)-[0-9a-f]{{8}}")
    for stale in out.parent.iterdir():
        match = pattern.fullmatch(stale.name)
        if not match or stale.is_symlink() or not stale.is_dir() or _process_alive(int(match.group(2))):
            continue
        if match.group(1) == "tmp":
            shutil.rmtree(stale, ignore_errors=True)
        else:
            _remove_export(stale)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, but not ours to signal
        return True
    return True


def _move_into_place(tmp: Path, out: Path, format: str) -> None:
    """Rename the finished folder to `out`. An old `out` is renamed away first and checked again there
    (the user may have written into it during the export): only an earlier export is deleted, file by
    listed file; anything else is put back and the export refused."""
    old = None
    if out.exists() or out.is_symlink():
        old = out.parent / f".{out.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        os.replace(out, old)
        if old.is_symlink() or not old.is_dir():
            why = "it is not a folder"
        else:
            why = not_an_earlier_export(old, format) if any(old.iterdir()) else None
        if why:
            os.replace(old, out)
            raise ValueError(
                f"{out} changed during the export and is no longer an earlier zoo export ({why}); "
                "nothing was changed: choose another --out"
            )
    os.replace(tmp, out)
    if old is not None:
        _remove_export(old)


def _text_encoder_entry(model, pkg_dir: Path) -> tuple[dict | None, str | None]:
    """The text encoder's own export into the package: (its manifest entry, or None and why)."""
    name = model.config.get("text_encoder") or ""
    if not name:
        return None, "the model names no text encoder; the runtime takes embeddings only"
    try:
        from zoo.text import get_text_encoder

        encoder = get_text_encoder(name)
    except Exception as e:  # noqa: BLE001 -- unknown or broken encoder: export the embeddings input anyway
        return None, f"text encoder {name!r} unavailable ({e}); the runtime takes embeddings only"
    text_dim = int(model.config.get("text_dim") or 0)
    if int(getattr(encoder, "dim", text_dim)) != text_dim:
        return None, (
            f"text encoder {name!r} gives {encoder.dim}-d embeddings but the model takes {text_dim}-d; "
            "the runtime takes embeddings only"
        )
    if not hasattr(encoder, "export"):
        return None, f"text encoder {name!r} has no runtime export; the runtime takes embeddings only"
    entry = dict(encoder.export(pkg_dir) or {})
    return (entry, None) if (problem := _runtime_text_mismatch(encoder, entry, pkg_dir)) is None else (None, problem)


def _runtime_text_mismatch(encoder, entry: dict, pkg_dir: Path) -> str | None:
    """Why zoo_runtime cannot reproduce `encoder` from the exported entry, or None when it can: the
    runtime's encoder must give the same embeddings (cosine >= 0.999) on a few awkward prompts."""
    import numpy as np

    from zoo_runtime.text import load_text_encoder

    prompts = ["a red circle on a blue background", "", "ÜNÏCODE Prompt, with punctuation!"]
    try:
        got = np.asarray(load_text_encoder(pkg_dir, entry)(prompts), np.float64)
    except Exception as e:  # noqa: BLE001 -- a plugin's export the runtime cannot read: say so, export the rest
        return (
            f"text encoder {encoder.name!r} exported an entry zoo_runtime cannot run ({e}); the runtime "
            "takes embeddings only"
        )
    want = np.asarray(encoder.encode(prompts), np.float64)
    if got.shape != want.shape:
        return (
            f"text encoder {encoder.name!r}: zoo_runtime's embeddings from the exported files are "
            f"{list(got.shape)}, the encoder's {list(want.shape)}; the runtime takes embeddings only"
        )
    norms = np.linalg.norm(got, axis=1) * np.linalg.norm(want, axis=1)
    cosine = np.where(norms > 0, (got * want).sum(1) / np.maximum(norms, 1e-12), (got == want).all(1))
    if cosine.min() < 0.999:
        return (
            f"text encoder {encoder.name!r}: zoo_runtime's embeddings from the exported files differ from "
            f"the encoder's (cosine {cosine.min():.4f}); the runtime takes embeddings only"
        )
    return None


def text_token_fields(config: dict) -> dict:
    """The manifest's conditioning fields of a token-level text model (none for other models)."""
    if config.get("conditioning") != "text" or not int(config.get("text_tokens") or 0):
        return {}
    return {"text_tokens": int(config["text_tokens"]), "text_token_dim": int(config["text_token_dim"])}


def _calibration(names, latent_dim, num_classes, text_dim, n: int, batch: int, tokens, seed: int) -> list[dict]:
    return [
        example_inputs(names, latent_dim, num_classes, text_dim, min(batch, n - i), seed=seed + i, tokens=tokens)
        for i in range(0, n, batch)
    ]


def export(
    model,
    out: str | os.PathLike,
    opset: int = DEFAULT_OPSET,
    precision: str = "fp32",
    format: str = "onnx",
    *,
    quality_n: int = 512,
    quality_data: str | None = None,
    calibration_n: int = 256,
    progress: bool | None = None,
    triton_max_batch: int = 256,
    overwrite: bool = False,
    **config,
) -> Path:
    """Export a generator to a verified model package (format="onnx") or a Triton model repository.

    model: a `zoo.GAN`, a model name (`dcgan32.digits` loads its weights; a bare architecture is
    exported untrained), or a .safetensors file / run folder. `config` overrides apply when building
    by name. int8 only: `calibration_n` latents calibrate; the quality cost is measured on
    `quality_n` latents (FID int8 vs fp32 in the digits feature space) and, with `quality_data`
    such as "builtin:digits", also as the FID change against that data. Returns the folder
    `zoo_runtime.load` takes (for Triton, the model folder inside the repository `out`).

    `out` is the user's folder: it must not exist, be empty, or (with `overwrite=True`) be an earlier
    export of the same format whose manifest and files verify, with nothing else in it; anything
    else is refused before any work and nothing there is deleted. Raises ExportError when ONNX Runtime disagrees with PyTorch beyond the
    precision's tolerance (nothing is written then).
    """
    from tqdm.auto import tqdm

    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    if int(opset) < MIN_OPSET:
        raise ValueError(f"opset must be >= {MIN_OPSET} (the exporter emits opset-{MIN_OPSET} ops), got {opset}")
    out = Path(out)
    gan = _resolve_model(model, config)
    kind = gan.conditioning
    latent_dim, num_classes = gan.latent_dim, gan.num_classes
    text_dim = int(gan.config.get("text_dim") or 0)
    has_truncation = gan.has_truncation
    tokens = token_shape(gan.generator)
    names = input_names(kind, has_truncation, tokens)

    steps = ["export", "convert", "verify"] + (["quality"] if precision == "int8" else []) + ["write"]
    bar = tqdm(
        total=len(steps),
        desc=f"export {gan.name} ({precision})",
        unit="step",
        disable=progress is False or (progress is None and not sys.stderr.isatty()),
    )
    tmp = _prepare_destination(out, format, overwrite)
    try:
        bar.set_postfix_str("torch.onnx.export")
        generator = prepare_generator(gan.generator)
        float_core = export_float_graph(generator, kind, has_truncation, latent_dim, num_classes, text_dim, int(opset))
        onnx.checker.check_model(float_core, full_check=True)
        per_run = images_per_run(float_core, 32)  # images per ONNX Runtime run in the checks below
        bar.update()

        bar.set_postfix_str(precision)
        quantization = None
        if precision == "fp32":
            from zoo.exporting.rewrite import (
                batch_norm_into_gemms,
                channel_affine_into_conv,
                conv_transpose_to_phases,
                elementwise_before_concat,
                elementwise_before_depth_to_space,
                fold_elementwise_chains,
                interleave_channels_last,
                shared_normalized_projections,
                skip_biases_to_first_level,
                slices_of_concats,
                softmax_as_reductions,
                thin_conv_as_phase_groups,
                thin_modulated_conv_to_matmul,
                upsample_after_identity_pool,
            )

            core, _ = conv_transpose_to_phases(float_core)  # exact rewrites, faster on ONNX Runtime's CPU (rewrite.py)
            core, _ = slices_of_concats(core)
            core, _ = channel_affine_into_conv(core)
            core, _ = shared_normalized_projections(core)
            core, _ = batch_norm_into_gemms(core)
            core, _ = softmax_as_reductions(core)
            core, _ = elementwise_before_depth_to_space(core, only_before_thin_convs=True)
            core, _ = elementwise_before_concat(core)  # the last FiLM and Relu onto each phase conv's output
            core, _ = thin_conv_as_phase_groups(core)  # the last conv reads those directly
            core, _ = interleave_channels_last(core)  # after the pass above, which reads the last DepthToSpace
            core, _ = upsample_after_identity_pool(core)
            core, _ = fold_elementwise_chains(core)
            core, _ = skip_biases_to_first_level(core)
            core, _ = thin_modulated_conv_to_matmul(core)  # after the fold, which puts the gain on the styles
        elif precision == "fp16":
            from zoo.exporting.precision import to_fp16

            core = to_fp16(float_core)
        else:
            from zoo.exporting.precision import to_int8

            # a text model calibrates on real prompts' conditions too (zoo.exporting.prompts), half and half
            prompt_calibration = prompt_batches(gan, names, latent_dim, calibration_n // 2, per_run, seed=11_000)
            random_n = calibration_n - sum(len(b[names[0]]) for b in prompt_calibration)
            core, quantization = to_int8(
                float_core,
                _calibration(names, latent_dim, num_classes, text_dim, random_n, per_run, tokens, seed=10_000)
                + prompt_calibration,
                _calibration(names, latent_dim, num_classes, text_dim, 32, per_run, tokens, seed=20_000)
                + prompt_batches(gan, names, latent_dim, 32, per_run, seed=21_000),
            )
        final = append_postprocess(core)
        onnx.checker.check_model(final, full_check=True)
        bar.update()

        bar.set_postfix_str("ONNX Runtime vs PyTorch")
        from zoo.exporting.graph import CoreGenerator

        torch_core = CoreGenerator(generator, kind, has_truncation, bool(tokens[0])).eval()
        batch_sizes = parity_batch_sizes(precision, per_run)
        prompts = prompt_batches(gan, names, latent_dim, 16, per_run, seed=PARITY_SEED + 1_000)
        check = parity(
            torch_core, core, final, names, latent_dim, num_classes, text_dim, precision, batch_sizes, prompts=prompts
        )
        bar.update()

        quality = None
        if precision == "int8":
            bar.set_postfix_str("int8 quality")
            quality = int8_quality(
                float_core,
                core,
                names,
                latent_dim,
                num_classes,
                text_dim,
                n=quality_n,
                data=quality_data,
                prompts=prompt_batches(gan, names, latent_dim, 64, per_run, seed=PARITY_SEED + 2_000),
            )
            bar.update()

        bar.set_postfix_str("write")
        pkg = tmp / triton_model_name_for(gan) if format == "triton" else tmp
        graph_rel = "1/model.onnx" if format == "triton" else GRAPH
        (pkg / graph_rel).parent.mkdir(parents=True, exist_ok=True)
        onnx.save(final, pkg / graph_rel)
        from zoo.exporting.styles import export_styles, has_styles  # w-space graphs for mapping-network models

        styles = (
            export_styles(generator, kind, has_truncation, latent_dim, num_classes, text_dim, int(opset), pkg)
            if format == "onnx" and has_styles(generator)
            else None
        )
        text_entry, text_note = (None, None)
        if kind == "text":
            text_entry, text_note = _text_encoder_entry(gan, pkg)
            if text_note:
                warnings.warn(text_note, UserWarning, stacklevel=2)
        inputs, outputs = io_specs(final)
        if format == "triton":
            from zoo.exporting.triton import config_pbtxt

            (pkg / "config.pbtxt").write_text(config_pbtxt(pkg.name, inputs, outputs, triton_max_batch))
        manifest = _manifest(
            gan,
            kind,
            names,
            inputs,
            outputs,
            precision,
            int(opset),
            graph_rel,
            check,
            quantization,
            quality,
            text_entry,
            text_note,
            float_core,
            format,
        )
        if styles:
            manifest["synthesis"] = styles
        manifest["files"] = {
            p.relative_to(pkg).as_posix(): {"sha256": sha256_file(p), "bytes": p.stat().st_size}
            for p in sorted(pkg.rglob("*"))
            if p.is_file() and p.name != MANIFEST
        }
        (pkg / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        _move_into_place(tmp, out, format)
        bar.update()
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        bar.close()
    return out / pkg.name if format == "triton" else out


def triton_model_name_for(gan) -> str:
    from zoo.exporting.triton import triton_model_name

    return triton_model_name(gan.name)


def _manifest(
    gan,
    kind,
    names,
    inputs,
    outputs,
    precision,
    opset,
    graph_rel,
    check,
    quantization,
    quality,
    text_entry,
    text_note,
    float_core,
    format,
) -> dict:
    meta = gan.metadata or {}
    shape = outputs[0]["shape"]  # ["batch", H, W, C]
    h, w, c = shape[1], shape[2], shape[3]
    cost = count_macs(float_core)
    manifest = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "model": {
            "name": gan.name,
            "arch": gan.spec.name,
            "family": gan.spec.family,
            "tag": gan.tag,
            "parent": meta.get("parent") or None,
            "dataset": meta.get("dataset") or None,
            "license": meta.get("license")
            or (gan.spec.pretrained[gan.tag].license if gan.tag in gan.spec.pretrained else None),
            "source": meta.get("path") or ("pretrained" if gan.tag else "untrained"),
            "config": gan.config,
        },
        "format": format,
        "precision": precision,
        "opset": opset,
        "graph": graph_rel,
        "latent_dim": gan.latent_dim,
        "latents": "zoo_runtime.latents.make_latents(n, latent_dim, seed); default labels make_labels(n, classes, seed)",
        "conditioning": {
            "kind": kind,
            "num_classes": gan.num_classes if kind == "class" else 0,
            "text_dim": int(gan.config.get("text_dim") or 0) if kind == "text" else 0,
            **text_token_fields(gan.config),
            "text_encoder": (gan.config.get("text_encoder") or None) if kind == "text" else None,
        },
        "truncation": "truncation" in names,
        "inputs": inputs,
        "outputs": outputs,
        "image": {
            "height": h,
            "width": w,
            "channels": c,
            "layout": "NHWC",
            "dtype": "uint8",
            "from_float": PIXEL_FORMULA,
        },
        "parity": check,
        "tolerances": TOLERANCES,
        "cost": {
            "macs_per_image": cost["macs"],
            "flops_per_image": 2 * cost["macs"],
            "macs_by_op": cost["by_op"],
            "params": count_params(float_core),
        },
        "created_by": _versions(),
        "created_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    if quantization is not None:
        manifest["quantization"] = quantization
    if quality is not None:
        manifest["quality"] = quality
    if kind == "text":
        manifest["text_encoder"] = text_entry
        if text_note:
            manifest["text_encoder_note"] = text_note
        from zoo.vocabulary import knowledge_of, package_vocabulary

        if known := knowledge_of(meta):  # what the model knows: the runtime names what a prompt asks beyond it
            manifest["vocabulary"] = package_vocabulary(known)
    return manifest


__all__ = ["export", "ExportError", "PRECISIONS", "FORMATS"]
