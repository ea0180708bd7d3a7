"""StyleGAN2 checkpoints -> the zoo's `stylegan2_ada` architecture: config and tensors.

NVlabs (stylegan2-ada-pytorch, and stylegan3's StyleGAN2 networks): the constructor arguments
stored with each network give the config; the state-dict names map one to one, except that the
conditional mapping's first layer is split into its z and label parts (each rescaled to its own
fan-in, same outputs), the one-hot label layers become embedding tables, and a conditional D's
output layer moves into `discriminator.condition`. rosinality/stylegan2-pytorch: the config comes
from the tensor shapes (its channel table is NVlabs' rule with channel_base 16384 x multiplier).
`to_nvlabs` maps back (tests build reference-format files with it).
"""

from __future__ import annotations

import math
import re

import torch

from zoo.archs.stylegan2_ada import stage_channels, stylegan2_ada_config

ARCH = "stylegan2_ada"


class UnsupportedNetwork(ValueError):
    """A readable checkpoint whose network the zoo has no architecture for."""


def _resolutions(resolution: int) -> list[int]:
    return [2**i for i in range(2, int(math.log2(resolution)) + 1)]


# --- NVlabs ----------------------------------------------------------------------------------


def nvlabs_config(g_kwargs: dict, d_kwargs: dict) -> dict:
    """The zoo config for NVlabs Generator/Discriminator constructor arguments (their defaults filled in)."""
    mk, sk = dict(g_kwargs.get("mapping_kwargs") or {}), dict(g_kwargs.get("synthesis_kwargs") or {})
    bk, ek = dict(d_kwargs.get("block_kwargs") or {}), dict(d_kwargs.get("epilogue_kwargs") or {})
    dmk = dict(d_kwargs.get("mapping_kwargs") or {})
    res, c_dim, z_dim = int(g_kwargs["img_resolution"]), int(g_kwargs.get("c_dim", 0)), int(g_kwargs["z_dim"])
    w_dim = int(g_kwargs["w_dim"])
    problems = []
    if sk.get("architecture", "skip") != "skip":
        problems.append(f"generator architecture {sk['architecture']!r} (only 'skip')")
    if d_kwargs.get("architecture", "resnet") != "resnet":
        problems.append(f"discriminator architecture {d_kwargs['architecture']!r} (only 'resnet')")
    for where, kw in (("G", sk), ("D", bk), ("D", d_kwargs)):
        if list(kw.get("resample_filter", [1, 3, 3, 1])) != [1, 3, 3, 1]:
            problems.append(f"{where} resample_filter {kw['resample_filter']} (only [1, 3, 3, 1])")
    for where, kw in (("mapping", mk), ("D mapping", dmk), ("G", sk), ("D", bk), ("D epilogue", ek)):
        if kw.get("activation", "lrelu") != "lrelu":
            problems.append(f"{where} activation {kw['activation']!r} (only 'lrelu')")
    if mk.get("layer_features") not in (None, w_dim):
        problems.append(f"mapping layer_features {mk['layer_features']} != w_dim {w_dim}")
    if not sk.get("use_noise", True):
        problems.append("use_noise=False")
    if sk.get("kernel_size", 3) != 3:
        problems.append(f"kernel_size {sk['kernel_size']}")
    if z_dim <= 0:
        problems.append("z_dim 0 (label-only generators)")
    if int(ek.get("mbstd_num_channels", 1)) not in (0, 1):
        problems.append(f"mbstd_num_channels {ek['mbstd_num_channels']} (only 0 or 1)")
    g_chan = (int(sk.get("channel_base", 32768)), int(sk.get("channel_max", 512)))
    d_chan = (int(d_kwargs.get("channel_base", 32768)), int(d_kwargs.get("channel_max", 512)))
    if g_chan != d_chan:
        problems.append(f"G channels (base, max) {g_chan} differ from D's {d_chan}")
    if int(d_kwargs.get("c_dim", 0)) != c_dim or int(d_kwargs["img_resolution"]) != res:
        problems.append("G and D disagree on resolution or label count")
    if res < 8 or res & (res - 1):
        problems.append(f"resolution {res}")
    if problems:
        raise UnsupportedNetwork(
            "this StyleGAN2 network uses options the zoo does not implement: " + "; ".join(problems)
        )
    clamp = sk.get("conv_clamp")
    if (d_kwargs.get("conv_clamp") or 0) != (clamp or 0):
        raise UnsupportedNetwork(f"G conv_clamp {clamp} differs from D's {d_kwargs.get('conv_clamp')}")
    group = ek.get("mbstd_group_size", 4)
    return stylegan2_ada_config(
        res,
        channels=int(g_kwargs["img_channels"]),
        latent_dim=z_dim,
        w_dim=w_dim,
        mapping_layers=int(mk.get("num_layers", 8)),
        mapping_lr=float(mk.get("lr_multiplier", 0.01)),
        embed_dim=int(mk.get("embed_features") or 0),
        channel_base=g_chan[0],
        max_channels=g_chan[1],
        conv_clamp=float(clamp or 0),
        num_fp16_res=int(sk.get("num_fp16_res", 0)),
        conditioning="class" if c_dim else "none",
        num_classes=c_dim,
        mbstd_group=int(group or 0),
        mbstd_channels=int(ek.get("mbstd_num_channels", 1)),
        cmap_dim=int(d_kwargs.get("cmap_dim") or 0),
        d_mapping_layers=int(dmk.get("num_layers", 8)),
        w_avg_beta=float(mk.get("w_avg_beta", 0.995) or 0.995),
    )


def _label_table(weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """NVlabs' label layer (one-hot [K] -> [E], equalised lr) as a table [K, E]: row k = its output for label k."""
    return (weight * (1 / math.sqrt(weight.shape[1]))).t() + bias


def nvlabs_to_zoo(g: dict[str, torch.Tensor], d: dict[str, torch.Tensor], config: dict) -> dict[str, torch.Tensor]:
    """NVlabs G (the EMA generator) and D state dicts -> the zoo's `generator.*` / `discriminator.*` tensors."""
    res, z_dim = config["resolution"], config["latent_dim"]
    conditional = config["conditioning"] == "class"
    out: dict[str, torch.Tensor] = {}

    def take(src: dict, key: str) -> torch.Tensor:
        if key not in src:
            raise UnsupportedNetwork(f"the network has no tensor {key!r}: not a StyleGAN2 network of this layout")
        return src[key].detach().float()

    # mapping
    for i in range(config["mapping_layers"]):
        out[f"generator.mapping.layers.{i}.weight"] = take(g, f"mapping.fc{i}.weight")
        out[f"generator.mapping.layers.{i}.bias"] = take(g, f"mapping.fc{i}.bias")
    out["generator.mapping.w_avg"] = take(g, "mapping.w_avg")
    if conditional:
        w0 = out["generator.mapping.layers.0.weight"]
        e = w0.shape[1] - z_dim
        out["generator.mapping.layers.0.weight"] = w0[:, :z_dim] * math.sqrt(z_dim / (z_dim + e))
        out["generator.mapping.condition.proj"] = w0[:, z_dim:] * math.sqrt(e / (z_dim + e))
        out["generator.mapping.condition.embed.weight"] = _label_table(
            take(g, "mapping.embed.weight"), take(g, "mapping.embed.bias")
        )
    # synthesis
    for j, r in enumerate(_resolutions(res)):
        src, dst = f"synthesis.b{r}.", f"generator.blocks.{j}."
        if r == 4:
            out[dst + "const"] = take(g, src + "const")
        for conv in ("conv1",) if r == 4 else ("conv0", "conv1"):
            for name in ("affine.weight", "affine.bias", "weight", "noise_strength", "bias"):
                out[f"{dst}{conv}.{name}"] = take(g, f"{src}{conv}.{name}")
            out[f"{dst}{conv}.noise_const"] = take(g, f"{src}{conv}.noise_const").reshape(1, 1, r, r)
        for name in ("affine.weight", "affine.bias", "weight", "bias"):
            out[f"{dst}torgb.{name}"] = take(g, f"{src}torgb.{name}")
    out["generator.pl_mean"] = torch.zeros(())
    # discriminator
    for j, r in enumerate(sorted(_resolutions(res), reverse=True)[:-1]):
        src, dst = f"b{r}.", f"discriminator.blocks.{j}."
        if j == 0:
            out[dst + "from_rgb.weight"], out[dst + "from_rgb.bias"] = (
                take(d, src + "fromrgb.weight"),
                take(d, src + "fromrgb.bias"),
            )
        for name in ("conv0.weight", "conv0.bias", "conv1.weight", "conv1.bias", "skip.weight"):
            out[dst + name] = take(d, src + name)
    for name in ("conv.weight", "conv.bias", "fc.weight", "fc.bias"):
        out[f"discriminator.{name}"] = take(d, f"b4.{name}")
    if conditional:
        out["discriminator.condition.out.weight"], out["discriminator.condition.out.bias"] = (
            take(d, "b4.out.weight"),
            take(d, "b4.out.bias"),
        )
        ch = out["discriminator.fc.weight"].shape[0]
        out["discriminator.out.weight"], out["discriminator.out.bias"] = torch.zeros(1, ch), torch.zeros(1)
        out["discriminator.condition.embed.weight"] = _label_table(
            take(d, "mapping.embed.weight"), take(d, "mapping.embed.bias")
        )
        for i in range(config["d_mapping_layers"]):
            out[f"discriminator.condition.layers.{i}.weight"] = take(d, f"mapping.fc{i}.weight")
            out[f"discriminator.condition.layers.{i}.bias"] = take(d, f"mapping.fc{i}.bias")
    else:
        out["discriminator.out.weight"], out["discriminator.out.bias"] = (
            take(d, "b4.out.weight"),
            take(d, "b4.out.bias"),
        )
    return out


def to_nvlabs(model) -> tuple[dict, dict, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(G kwargs, D kwargs, G state, D state) in NVlabs' form for a zoo `stylegan2_ada` model (class labels
    are written as identity-embedded one-hot layers; text conditioning has no NVlabs form)."""
    cfg = model.config
    if cfg["conditioning"] == "text":
        raise UnsupportedNetwork("text conditioning has no NVlabs form")
    c_dim = cfg["num_classes"] if cfg["conditioning"] == "class" else 0
    z_dim, res = cfg["latent_dim"], cfg["resolution"]
    g_kwargs = dict(
        z_dim=z_dim,
        c_dim=c_dim,
        w_dim=cfg["w_dim"],
        img_resolution=res,
        img_channels=cfg["channels"],
        mapping_kwargs=dict(
            num_layers=cfg["mapping_layers"],
            lr_multiplier=cfg["mapping_lr"],
            w_avg_beta=cfg["w_avg_beta"],
            **({"embed_features": cfg["embed_dim"]} if cfg["embed_dim"] else {}),
        ),
        synthesis_kwargs=dict(
            channel_base=cfg["channel_base"],
            channel_max=cfg["max_channels"],
            num_fp16_res=cfg["num_fp16_res"],
            conv_clamp=cfg["conv_clamp"] or None,
        ),
    )
    d_kwargs = dict(
        c_dim=c_dim,
        img_resolution=res,
        img_channels=cfg["channels"],
        channel_base=cfg["channel_base"],
        channel_max=cfg["max_channels"],
        num_fp16_res=cfg["num_fp16_res"],
        conv_clamp=cfg["conv_clamp"] or None,
        cmap_dim=cfg["cmap_dim"] or None,
        mapping_kwargs=dict(num_layers=cfg["d_mapping_layers"]),
        epilogue_kwargs=dict(mbstd_group_size=cfg["mbstd_group"] or None, mbstd_num_channels=cfg["mbstd_channels"]),
    )
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    g, d = {}, {}
    for k, v in state.items():
        part, _, name = k.partition(".")
        if part == "generator":
            m = re.fullmatch(r"blocks\.(\d+)\.(.*)", name)
            if m:
                r = 4 * 2 ** int(m.group(1))
                v = v.reshape(r, r) if m.group(2).endswith("noise_const") else v
                g[f"synthesis.b{r}.{m.group(2)}"] = v
            elif m := re.fullmatch(r"mapping\.layers\.(\d+)\.(weight|bias)", name):
                g[f"mapping.fc{m.group(1)}.{m.group(2)}"] = v
            elif name == "mapping.w_avg":
                g[name] = v
        else:
            m = re.fullmatch(r"blocks\.(\d+)\.(.*)", name)
            if m:
                r = res // 2 ** int(m.group(1))
                d[f"b{r}.{m.group(2).replace('from_rgb', 'fromrgb')}"] = v
            elif m := re.fullmatch(r"condition\.layers\.(\d+)\.(weight|bias)", name):
                d[f"mapping.fc{m.group(1)}.{m.group(2)}"] = v
            elif name.startswith(("conv.", "fc.")):
                d[f"b4.{name}"] = v
            elif name.startswith("out.") and not c_dim:
                d[f"b4.{name}"] = v
            elif name.startswith("condition.out."):
                d[f"b4.{name.removeprefix('condition.')}"] = v
    if c_dim:
        e = state["generator.mapping.condition.proj"].shape[1]
        w_z = state["generator.mapping.layers.0.weight"] * math.sqrt((z_dim + e) / z_dim)
        w_c = state["generator.mapping.condition.proj"] * math.sqrt((z_dim + e) / e)
        g["mapping.fc0.weight"] = torch.cat([w_z, w_c], dim=1)
        for target, table in (
            (g, state["generator.mapping.condition.embed.weight"]),
            (d, state["discriminator.condition.embed.weight"]),
        ):
            target["mapping.embed.weight"] = table.t() * math.sqrt(c_dim)  # one-hot layer whose rows are the table
            target["mapping.embed.bias"] = torch.zeros(table.shape[1])
    return g_kwargs, d_kwargs, g, d


# --- rosinality ------------------------------------------------------------------------------


def rosinality_config(g: dict[str, torch.Tensor], d: dict[str, torch.Tensor] | None) -> dict:
    """The zoo config of a rosinality Generator state dict (and Discriminator's, when present)."""
    if any(k.startswith(("dwt", "iwt")) or ".iwt." in k or ".dwt." in k for k in g):
        raise UnsupportedNetwork(
            "a SWAGAN checkpoint (rosinality swagan.py): not supported; gan-zoo reads StyleGAN2 ones"
        )
    if "input.input" not in g or "style.1.weight" not in g:
        raise UnsupportedNetwork(
            "the generator has no 'input.input' / 'style.1.weight': not a rosinality StyleGAN2 generator"
        )
    n_mlp = len([k for k in g if re.fullmatch(r"style\.\d+\.weight", k)])
    style_dim = g["style.1.weight"].shape[1]
    n_rgb = len([k for k in g if re.fullmatch(r"to_rgbs\.\d+\.bias", k)])
    res = 4 * 2**n_rgb
    chs = {4: g["input.input"].shape[1]}
    for k in range(n_rgb):
        chs[8 * 2**k] = g[f"convs.{2 * k}.conv.weight"].shape[1]
    base, top = chs[res] * res, chs[4]
    if stage_channels(res, base, top) != chs:
        raise UnsupportedNetwork(f"channel layout {chs} does not follow min(base // res, max) (NVlabs' rule)")
    lr_mul = 0.01  # rosinality's default lr_mlp; equalised layers store it only in their scale
    return stylegan2_ada_config(
        res,
        channels=g["to_rgb1.bias"].shape[1],
        latent_dim=style_dim,
        w_dim=style_dim,
        mapping_layers=n_mlp,
        mapping_lr=lr_mul,
        channel_base=base,
        max_channels=top,
        conv_clamp=0.0,
        mbstd_group=4,
        mbstd_channels=1,
    )


def rosinality_to_zoo(
    g: dict[str, torch.Tensor], d: dict[str, torch.Tensor] | None, latent_avg: torch.Tensor | None, config: dict
) -> dict[str, torch.Tensor]:
    """rosinality g_ema (+ d) state dicts -> zoo tensors; without d the discriminator's are left out."""
    res = config["resolution"]
    out: dict[str, torch.Tensor] = {}

    def take(src: dict, key: str) -> torch.Tensor:
        if key not in src:
            raise UnsupportedNetwork(f"the checkpoint has no tensor {key!r}: not a rosinality StyleGAN2 of this layout")
        return src[key].detach().float()

    for i in range(config["mapping_layers"]):
        out[f"generator.mapping.layers.{i}.weight"] = take(g, f"style.{i + 1}.weight")
        out[f"generator.mapping.layers.{i}.bias"] = take(g, f"style.{i + 1}.bias")
    out["generator.mapping.w_avg"] = (
        latent_avg.detach().float().reshape(-1) if latent_avg is not None else torch.zeros(config["w_dim"])
    )

    def styled(src: str, dst: str, noise: int, r: int) -> None:
        out[dst + "weight"] = take(g, src + "conv.weight")[0]
        out[dst + "affine.weight"] = take(g, src + "conv.modulation.weight")
        out[dst + "affine.bias"] = take(g, src + "conv.modulation.bias")
        out[dst + "noise_strength"] = take(g, src + "noise.weight").reshape(())
        out[dst + "bias"] = take(g, src + "activate.bias")
        out[dst + "noise_const"] = take(g, f"noises.noise_{noise}").reshape(1, 1, r, r)

    def to_rgb(src: str, dst: str) -> None:
        out[dst + "weight"] = take(g, src + "conv.weight")[0]
        out[dst + "affine.weight"] = take(g, src + "conv.modulation.weight")
        out[dst + "affine.bias"] = take(g, src + "conv.modulation.bias")
        out[dst + "bias"] = take(g, src + "bias").reshape(-1)

    out["generator.blocks.0.const"] = take(g, "input.input")[0]
    styled("conv1.", "generator.blocks.0.conv1.", 0, 4)
    to_rgb("to_rgb1.", "generator.blocks.0.torgb.")
    for k, r in enumerate(_resolutions(res)[1:]):
        styled(f"convs.{2 * k}.", f"generator.blocks.{k + 1}.conv0.", 2 * k + 1, r)
        styled(f"convs.{2 * k + 1}.", f"generator.blocks.{k + 1}.conv1.", 2 * k + 2, r)
        to_rgb(f"to_rgbs.{k}.", f"generator.blocks.{k + 1}.torgb.")
    out["generator.pl_mean"] = torch.zeros(())
    if d is None:
        return out
    out["discriminator.blocks.0.from_rgb.weight"] = take(d, "convs.0.0.weight")
    out["discriminator.blocks.0.from_rgb.bias"] = take(d, "convs.0.1.bias")
    for j in range(len(_resolutions(res)) - 1):
        src, dst = f"convs.{j + 1}.", f"discriminator.blocks.{j}."
        out[dst + "conv0.weight"], out[dst + "conv0.bias"] = (
            take(d, src + "conv1.0.weight"),
            take(d, src + "conv1.1.bias"),
        )
        out[dst + "conv1.weight"], out[dst + "conv1.bias"] = (
            take(d, src + "conv2.1.weight"),
            take(d, src + "conv2.2.bias"),
        )
        out[dst + "skip.weight"] = take(d, src + "skip.1.weight")
    out["discriminator.conv.weight"], out["discriminator.conv.bias"] = (
        take(d, "final_conv.0.weight"),
        take(d, "final_conv.1.bias"),
    )
    out["discriminator.fc.weight"], out["discriminator.fc.bias"] = (
        take(d, "final_linear.0.weight"),
        take(d, "final_linear.0.bias"),
    )
    out["discriminator.out.weight"], out["discriminator.out.bias"] = (
        take(d, "final_linear.1.weight"),
        take(d, "final_linear.1.bias"),
    )
    return out
