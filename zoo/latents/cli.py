"""What `zoo interpolate`, `zoo style-mix`, `zoo project` and `zoo sample --w/--z` do, kept out of zoo/cli.py.
Every output path is checked before a model is loaded, so a typo costs nothing and writes nothing."""

from __future__ import annotations

from pathlib import Path

import torch

from zoo.latents.styles import read_latents, resolve_model, synthesize
from zoo.model import GAN


def sample_latents(
    model: GAN, w_file: str | None, z_file: str | None, labels, prompt, psis: list[float]
) -> torch.Tensor:
    """Images from a latent file: w (or w+) through the synthesis network, z through the whole generator."""
    if w_file and z_file:
        raise ValueError("give --w or --z, not both")
    if len(psis) > 1 or psis[0] != 1.0:
        raise ValueError("--truncation applies to seeds; a latent file is used as it is (truncate before projecting)")
    if w_file:
        if labels is not None or prompt is not None:
            raise ValueError("a w latent already holds its condition; --w takes no --label or --prompt")
        return synthesize(model, read_latents(model, w_file, "w"))
    z = torch.from_numpy(read_latents(model, z_file, "z"))
    n = len(z)
    if isinstance(labels, list) and len(labels) != n:
        raise ValueError(f"--z {z_file} holds {n} latents: give one --label or {n}")
    return model.sample(n, z=z, labels=labels, prompts=prompt)


def interpolate_command(
    model_name: str,
    out: str,
    seeds=None,
    from_file=None,
    to_file=None,
    frames: int = 48,
    loop: bool = False,
    space=None,
    label=None,
    prompt=None,
    prompts=None,
    truncation: float = 1.0,
    fps: float = 24.0,
) -> dict:
    from zoo.images import to_uint8
    from zoo.latents.walk import interpolate, latent_keys
    from zoo_runtime.interpolate import check_animation_path, parse_seeds, save_animation

    check_animation_path(out)
    seed_list = parse_seeds(seeds) if seeds else []
    if prompts and (from_file or to_file):
        raise ValueError("--prompts walks between two prompts from one seed; it takes no --from/--to")
    items = ([Path(from_file)] if from_file else []) + seed_list + ([Path(to_file)] if to_file else [])
    if not prompts and len(items) < 2:
        raise ValueError("give at least two keys: --seeds 3,17,42, or --from A.npy with --to B.npy or --seeds")
    model = resolve_model(model_name)
    if prompts:
        images = interpolate(
            model, seeds=seed_list, frames=frames, loop=loop, space=space, prompt_pair=prompts, truncation=truncation
        )
    elif from_file or to_file:
        keys = latent_keys(model, items, space, labels=label, prompts=prompt, truncation=truncation)
        images = interpolate(
            model,
            seeds=seed_list,
            frames=frames,
            loop=loop,
            space=space,
            labels=label,
            prompts=prompt,
            keys=keys,
            truncation=truncation,
        )
    else:
        images = interpolate(
            model,
            seeds=seed_list,
            frames=frames,
            loop=loop,
            space=space,
            labels=label,
            prompts=prompt,
            truncation=truncation,
        )
    path = save_animation(to_uint8(images), out, fps=fps, loop=True, nrow=min(len(images), 12))
    from zoo.latents.styles import has_mapping

    return {
        "out": str(path),
        "model": model.name,
        "frames": len(images),
        "space": space or ("w" if has_mapping(model) else "z"),
        "keys": [str(i) for i in items] or list(prompts),
        "loop": loop,
        "fps": fps,
    }


def style_mix_command(model_name: str, rows: str, cols: str, layers, label, truncation: float, out: str) -> dict:
    from zoo.images import save_grid
    from zoo.latents.grids import parse_layers, style_mix
    from zoo_runtime.images import image_format_of
    from zoo_runtime.interpolate import parse_seeds

    image_format_of(out)
    row_seeds, col_seeds = parse_seeds(rows), parse_seeds(cols)
    model = resolve_model(model_name)
    images = style_mix(model, row_seeds, col_seeds, layers=layers, truncation=truncation, labels=label)
    path = save_grid(images, out, nrow=len(col_seeds) + 1)
    return {
        "out": str(path),
        "model": model.name,
        "rows": row_seeds,
        "cols": col_seeds,
        "layers": parse_layers(layers, model.generator.num_ws),
        "num_ws": model.generator.num_ws,
    }


def project_command(
    model_name: str,
    out: str,
    target: str,
    steps: int,
    space,
    feature,
    label,
    prompt,
    pixel_weight: float,
    optimize_noise: bool,
    video,
    seed: int,
    device,
    progress,
) -> dict:
    from zoo.latents.project import load_target, project, write_projection
    from zoo_runtime.interpolate import check_animation_path

    if video:
        check_animation_path(Path(out) / video)
    if Path(out).exists() and not Path(out).is_dir():
        raise ValueError(f"--out {out} is a file; give a folder")
    model = resolve_model(model_name)
    if device:
        model = model.to(device)
    image = load_target(target, model.config["resolution"], int(model.config["channels"]))
    result = project(
        model,
        image,
        steps=steps,
        space=space,
        feature=feature,
        label=label,
        prompt=prompt,
        pixel_weight=pixel_weight,
        optimize_noise=optimize_noise,
        seed=seed,
        video_frames=48 if video else 0,
        progress=progress,
    )
    return write_projection(result, out, model_name=model_name, video=video)
