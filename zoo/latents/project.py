"""Projection (GAN inversion): find the latent whose image reproduces a target picture.

What is optimised: w (one w for every layer; `space="w+"` one per layer) for models with a mapping
network, z otherwise. The loss is a perceptual term (1 - cosine of the target's and the image's
features in an offline feature space: "imagenet" when registered, else the bundled digits or shapes
classifier) plus a pixel term (mean squared error), as in the StyleGAN2 projector (Karras et al.
2020, appendix D) with its schedule: start from the mean w, Adam with a learning-rate ramp up and
cosine ramp down, Gaussian noise on w that fades over the first three quarters. With
`optimize_noise=True` the per-layer noise maps are optimised too, under the projector's noise
regularisation (autocorrelation at every scale, renormalised each step); the latent alone then does
not reproduce the reconstruction exactly, so both distances are reported. z models start from the
best of a few random latents (and, class models, the best class) and keep |z| near its expected norm.
"""

from __future__ import annotations

import copy
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from zoo.latents.styles import broadcast_ws, has_mapping, resolve_model
from zoo.model import GAN
from zoo.resolution import fit_tensor, image_size

MAX_TARGET_PIXELS = 64_000_000  # a target larger than this is refused before decoding (decompression bombs)


@dataclass
class Projection:
    latent: np.ndarray  # float32: w [1, w_dim], w+ [1, num_ws, w_dim] or z [1, latent_dim]
    space: str  # "w", "w+" or "z"
    target: torch.Tensor  # [1, C, H, W] in [-1, 1]
    image: torch.Tensor  # the reconstruction, [1, C, H, W] in [-1, 1]
    start: torch.Tensor  # the starting image (mean w, or the best random z)
    label: int | None
    distances: dict  # final and starting distances (see `distances`)
    feature: str
    steps: int
    history: list[dict] = field(default_factory=list)  # loss every 10 steps
    frames: list[np.ndarray] = field(default_factory=list)  # uint8 [H, 2W, C]: target | current, for a video
    noise: dict[str, np.ndarray] | None = None  # optimised noise maps (optimize_noise=True)


def load_target(path: str | os.PathLike, resolution, channels: int) -> torch.Tensor:
    """An image file -> [1, channels, H, W] in [-1, 1] (resolution an int or "HxW"; scaled to cover the shape and
    centre-cropped)."""
    from PIL import Image, UnidentifiedImageError

    from zoo.data.transforms import flatten_mode, pil_to_tensor

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such target image: {path}")
    try:
        with Image.open(path) as img:
            if img.width * img.height > MAX_TARGET_PIXELS:
                raise ValueError(
                    f"{path} is {img.width}x{img.height}: larger than {MAX_TARGET_PIXELS:,} pixels; shrink it first"
                )
            img.load()
            pic = flatten_mode(img).copy()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as e:
        raise ValueError(f"cannot read target image {path}: {e}") from None
    return fit_tensor(pil_to_tensor(pic, channels).unsqueeze(0), image_size(resolution), "crop")


def default_feature() -> str:
    from zoo.metrics.features import list_feature_extractors

    return "imagenet" if "imagenet" in list_feature_extractors() else ""


class Perceptual:
    """Differentiable features of a registered extractor, L2-normalised (extractors are no_grad at their
    forward for FID; the undecorated function is called here)."""

    def __init__(self, name: str, channels: int, device):
        from zoo.metrics.features import get_feature_extractor

        if not name:
            name = "digits" if channels == 1 else "shapes"
        self.name = name
        self.net = get_feature_extractor(name).to(device)
        for p in self.net.parameters():
            p.requires_grad_(False)
        forward = type(self.net).forward
        self.fn = getattr(forward, "__wrapped__", forward)
        self.rgb = name == "shapes"  # the shapes classifier reads RGB only

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.rgb and x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        with torch.enable_grad() if x.requires_grad else torch.no_grad():
            f = self.fn(self.net, x)
        if x.requires_grad and not f.requires_grad:
            raise ValueError(f"feature space {self.name!r} is not differentiable; choose another (feature=...)")
        return F.normalize(f.flatten(1).float(), dim=1)


def distances(image: torch.Tensor, target: torch.Tensor, perceptual: Perceptual) -> dict:
    """pixel_rmse: root mean squared error in [0, 1] pixel units; feature: 1 - cosine similarity of the
    features (0 = same features) in the projection's feature space."""
    with torch.no_grad():
        rmse = float(((image.clamp(-1, 1) - target) / 2).square().mean().sqrt())
        feat = float(1 - (perceptual(image.clamp(-1, 1)) * perceptual(target)).sum(1).mean())
    return {"pixel_rmse": round(rmse, 5), "feature": round(feat, 5)}


def _noise_buffers(g) -> dict[str, torch.Tensor]:
    return {name: buf for name, buf in g.named_buffers() if name.endswith("noise_const")}


def _noise_regularisation(noises) -> torch.Tensor:
    """Autocorrelation of each noise map with itself shifted by one pixel, at every scale down to 8x8."""
    reg = 0.0
    for noise in noises:
        x = noise
        while True:
            reg = reg + (x * torch.roll(x, 1, dims=3)).mean().square() + (x * torch.roll(x, 1, dims=2)).mean().square()
            if x.shape[2] <= 8:
                break
            x = F.avg_pool2d(x, 2)
    return reg


def _set_buffer(module: torch.nn.Module, dotted: str, value: torch.Tensor) -> None:
    owner = module.get_submodule(dotted.rpartition(".")[0]) if "." in dotted else module
    setattr(owner, dotted.rpartition(".")[2], value)


def _condition(model: GAN, label: int | None, prompt: str | None, device) -> torch.Tensor | None:
    if model.conditioning == "class":
        return torch.tensor([label], dtype=torch.int64, device=device)
    if model.conditioning == "text":
        return model.make_condition(1, 0, prompts=prompt).to(device)
    return None


def _side_by_side(target: torch.Tensor, image: torch.Tensor) -> np.ndarray:
    from zoo.images import to_uint8

    return np.concatenate([to_uint8(target)[0], to_uint8(image.clamp(-1, 1))[0]], axis=1)


def project(
    model: GAN | str,
    target,
    steps: int = 500,
    space: str | None = None,
    feature: str | None = None,
    label: int | None = None,
    prompt: str | None = None,
    lr: float = 0.1,
    pixel_weight: float = 1.0,
    feature_weight: float = 1.0,
    optimize_noise: bool = False,
    noise_weight: float = 1e5,
    seed: int = 0,
    video_frames: int = 0,
    progress: bool | None = None,
) -> Projection:
    """Project `target` (an image file, or a tensor [1, C, H, W] in [-1, 1] at the model's size) into `model`.

    space: "w" (default with a mapping network), "w+" or "z" (the only one without). feature: a registered
    feature extractor (default "imagenet" when registered, else the bundled "digits"/"shapes" classifier by the
    model's channels). label: class models' class (default: the class whose starting image is closest).
    prompt: text models' prompt (required). video_frames: keep this many side-by-side frames of the
    optimisation. Returns a `Projection`; `write_projection` saves it.
    """
    from tqdm.auto import tqdm

    model = resolve_model(model)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    mapping = has_mapping(model)
    space = space or ("w" if mapping else "z")
    if space not in ("w", "w+", "z"):
        raise ValueError(f"space must be 'w', 'w+' or 'z', got {space!r}")
    if space != "z" and not mapping:
        raise ValueError(f"{model.name} has no mapping network: project in z (--space z)")
    if model.conditioning == "text" and not prompt:
        raise ValueError(f"{model.name} is text-conditional: pass the prompt the image should match (--prompt)")
    if model.conditioning != "text" and prompt:
        raise ValueError(f"{model.name} is not text-conditional; it takes no prompt")
    if label is not None and model.conditioning != "class":
        raise ValueError(f"{model.name} is not class-conditional; it takes no label")
    if label is not None and not 0 <= int(label) < model.num_classes:
        raise ValueError(f"label must be in [0, {model.num_classes - 1}], got {label}")

    g = copy.deepcopy(model.generator).eval()
    for p in g.parameters():
        p.requires_grad_(False)
    device = next(g.parameters()).device
    channels, res = int(model.config["channels"]), model.config["resolution"]
    h, w = image_size(res)
    if isinstance(target, (str, os.PathLike)):
        target = load_target(target, res, channels)
    target = torch.as_tensor(target, dtype=torch.float32)
    if tuple(target.shape) != (1, channels, h, w):
        raise ValueError(f"target must be [1, {channels}, {h}, {w}] for {model.name}, got {list(target.shape)}")
    target = target.to(device)
    if feature is None and default_feature():
        try:
            perceptual = Perceptual(default_feature(), channels, device)
        except ValueError as e:  # e.g. the imagenet extractor's weights are not installed: the bundled classifier
            import warnings

            warnings.warn(
                f"feature space {default_feature()!r} unavailable ({e}); using the bundled classifier",
                UserWarning,
                stacklevel=2,
            )
            perceptual = Perceptual("", channels, device)
    else:
        perceptual = Perceptual(feature or "", channels, device)
    target_feat = perceptual(target)
    gen = torch.Generator().manual_seed(seed)

    def loss_of(images: torch.Tensor) -> torch.Tensor:  # per image [N]
        feat = 1 - (perceptual(images) * target_feat).sum(1)
        pix = (images - target).square().flatten(1).mean(1)
        return feature_weight * feat + pixel_weight * pix

    labels = (
        [int(label)]
        if label is not None
        else (list(range(model.num_classes)) if model.conditioning == "class" else [None])
    )
    with torch.no_grad():
        if mapping:
            # the mean w (per class) and its spread, from 4,096 latents, as the StyleGAN2 projector
            z = torch.randn(4096, model.latent_dim, generator=gen).to(device)
            stats = {}
            for lab in labels:
                c = _condition(model, lab, prompt, device)
                w = g.mapping(z, None if c is None else c.expand(len(z), *c.shape[1:]), update_avg=False)
                stats[lab] = (w.mean(0, keepdim=True), float((w - w.mean(0)).square().sum(1).mean().sqrt()))
            starts = {lab: g.synthesis(broadcast_ws(model, stats[lab][0])) for lab in labels}
            best = min(labels, key=lambda lab: float(loss_of(starts[lab])))
            w_mean, w_std = stats[best]
            start_image = starts[best]
            init = w_mean if space == "w" else broadcast_ws(model, w_mean)
        else:
            # the best of 16 random latents per class
            z = torch.randn(16, model.latent_dim, generator=gen).to(device)
            scored = []
            for lab in labels:
                c = _condition(model, lab, prompt, device)
                imgs = g(z, None if c is None else c.expand(len(z), *c.shape[1:]))
                losses = loss_of(imgs)
                i = int(losses.argmin())
                scored.append((float(losses[i]), lab, z[i : i + 1].clone(), imgs[i : i + 1]))
            _, best, init, start_image = min(scored, key=lambda s: s[0])
            w_std = 0.0
    label_used = best
    c = _condition(model, best, prompt, device)
    latent = init.clone().requires_grad_(True)
    noises = {}
    if optimize_noise and mapping:
        for name, buf in _noise_buffers(g).items():
            noises[name] = torch.randn(buf.shape, generator=gen).to(device).requires_grad_(True)
            _set_buffer(g, name, noises[name])
    opt = torch.optim.Adam([latent, *noises.values()], lr=lr, betas=(0.9, 0.999))

    def render(x: torch.Tensor) -> torch.Tensor:
        if not mapping:
            return g(x, c)
        return g.synthesis(broadcast_ws(model, x))

    history, frames = [], []
    keep = set(np.linspace(0, steps - 1, video_frames).round().astype(int).tolist()) if video_frames else set()
    bar = tqdm(
        range(steps),
        desc=f"project into {model.name} ({space})",
        unit="step",
        disable=progress is False or (progress is None and steps < 50),
    )
    for step in bar:
        t = step / steps
        ramp = min(1.0, (1 - t) / 0.25)
        ramp = (0.5 - 0.5 * math.cos(ramp * math.pi)) * min(1.0, t / 0.05)
        for group in opt.param_groups:
            group["lr"] = lr * ramp
        x = latent
        if mapping:
            scale = w_std * 0.05 * max(0.0, 1 - t / 0.75) ** 2
            x = latent + torch.randn(latent.shape, generator=gen).to(device) * scale
        images = render(x)
        loss = loss_of(images).sum()
        if noises:
            loss = loss + noise_weight * _noise_regularisation(noises.values())
        if not mapping:  # keep z near the shell N(0, I) latents live on
            loss = loss + 1e-3 * (latent.square().mean() - 1).square()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            for n in noises.values():  # the projector renormalises the noise maps every step
                n.sub_(n.mean()).div_(n.square().mean().sqrt().clamp(min=1e-8))
        if step % 10 == 0 or step == steps - 1:
            value = loss.item()
            history.append({"step": step, "loss": round(value, 5)})
            bar.set_postfix(loss=f"{value:.4f}")
        if step in keep:
            frames.append(_side_by_side(target, images.detach()))
    bar.close()

    with torch.no_grad():
        final = render(latent).clamp(-1, 1)
        dist = {
            **distances(final, target, perceptual),
            **{f"start_{k}": v for k, v in distances(start_image, target, perceptual).items()},
        }
        saved_noise = None
        if noises:
            saved_noise = {k: v.detach().cpu().numpy() for k, v in noises.items()}
            plain = copy.deepcopy(model.generator).eval()  # the model's own noise: what the latent alone gives
            lat_only = plain.synthesis(broadcast_ws(model, latent.detach())).clamp(-1, 1)
            dist.update({f"latent_only_{k}": v for k, v in distances(lat_only, target, perceptual).items()})
    return Projection(
        latent=latent.detach().cpu().numpy().astype(np.float32),
        space=space,
        target=target.cpu(),
        image=final.cpu(),
        start=start_image.clamp(-1, 1).cpu(),
        label=label_used,
        distances=dist,
        feature=perceptual.name,
        steps=steps,
        history=history,
        frames=frames,
        noise=saved_noise,
    )


def write_projection(
    result: Projection, out: str | os.PathLike, model_name: str = "", video: str | None = None, fps: float = 12.0
) -> dict:
    """Write latent.npy, target.png, reconstruction.png, side_by_side.png (target | start | reconstruction),
    projection.json (distances, space, label), noise.npz (optimised noise) and, with `video` (a file name such
    as progress.webp or progress.mp4), the optimisation as an animation. Returns {what: path}."""
    from zoo.images import to_uint8, write_picture
    from zoo_runtime.interpolate import check_animation_path, save_animation

    out = Path(out)
    if video:
        check_animation_path(out / video)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; give a folder")
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    tmp = out / f".latent.npy.tmp{os.getpid()}.npy"
    np.save(tmp, result.latent)
    os.replace(tmp, out / "latent.npy")
    written["latent"] = str(out / "latent.npy")
    written["target"] = str(write_picture(to_uint8(result.target)[0], out / "target.png"))
    written["reconstruction"] = str(write_picture(to_uint8(result.image)[0], out / "reconstruction.png"))
    side = np.concatenate([to_uint8(result.target)[0], to_uint8(result.start)[0], to_uint8(result.image)[0]], axis=1)
    written["side_by_side"] = str(write_picture(side, out / "side_by_side.png"))
    if result.noise:
        tmp = out / f".noise.tmp{os.getpid()}.npz"
        np.savez(tmp, **result.noise)
        os.replace(tmp, out / "noise.npz")
        written["noise"] = str(out / "noise.npz")
    if video and result.frames:
        written["video"] = str(save_animation(np.stack(result.frames), out / video, fps=fps))
    info = {
        "model": model_name,
        "space": result.space,
        "latent_shape": list(result.latent.shape),
        "label": result.label,
        "feature": result.feature,
        "steps": result.steps,
        "distances": result.distances,
        "files": written,
        "history": result.history,
        "use": f"zoo sample {model_name or 'MODEL'} --{'z' if result.space == 'z' else 'w'} {out / 'latent.npy'}"
        + (f" --label {result.label}" if result.space == "z" and result.label is not None else "")
        + " --out again.png",
    }
    tmp = out / f".projection.json.tmp{os.getpid()}"
    tmp.write_text(json.dumps(info, indent=2) + "\n")
    os.replace(tmp, out / "projection.json")
    written["json"] = str(out / "projection.json")
    return info
