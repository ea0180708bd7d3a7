"""R3GAN network pickles (brownvc/R3GAN) -> the zoo's `r3gan` architecture: config and tensors.

The published pickles hold G, D and G_ema as modules pickled by class (`training.networks`
wrappers around `R3GAN.Networks`; `training.networks_baseline` and `BaselineGAN.*` in files saved
before the project's rename), read as data by the restricted unpickler. No constructor arguments
are stored, so the config comes from the tensor shapes. Names map one to one, except: the basis'
linear layer over [z, embed(c)] splits into its z part and a class table (its label part times the
embedding), D's label embedding becomes the projection head's table with the head's linear term
zero, and an unconditional D's 1-d output becomes a 1-d feature read by a unit linear head.
"""

from __future__ import annotations

import math
import re

import torch

from zoo.archs.r3gan import lowpass_kernel, r3gan_config, stage_plan
from zoo.importing.unpickler import PersistentRecord

FAMILY = "r3gan"
# Module names whose classes the published pickles name: read as data (nothing is imported or run).
MODULES_AS_DATA = ("torch.nn.modules", "training.networks", "training.networks_baseline", "R3GAN", "BaselineGAN")
KNOWN_CLASSES = {
    "Generator",
    "Discriminator",
    "GeneratorStage",
    "DiscriminatorStage",
    "ResidualBlock",
    "Convolution",
    "UpsampleLayer",
    "DownsampleLayer",
    "GenerativeBasis",
    "DiscriminativeBasis",
    "BiasedActivationCUDA",
    "BiasedActivationReference",
    "InterpolativeUpsamplerCUDA",
    "InterpolativeUpsamplerReference",
    "InterpolativeDownsamplerCUDA",
    "InterpolativeDownsamplerReference",
    "Conv2d",
    "Linear",
    "ModuleList",
}
BLOCK = {
    "LinearLayer1.Layer.weight": "expand.weight",
    "NonLinearity1.Bias": "act1.bias",
    "LinearLayer2.Layer.weight": "grouped.weight",
    "NonLinearity2.Bias": "act2.bias",
    "LinearLayer3.Layer.weight": "project.weight",
}


class UnsupportedR3GAN(ValueError):
    """A readable R3GAN pickle whose network the zoo's r3gan architecture cannot hold."""


def is_r3gan(generator: PersistentRecord) -> bool:
    """R3GAN's networks wrap their model as `Model` with `MainLayers` (StyleGAN2's have `mapping`/`synthesis`)."""
    model = generator.children().get("Model")
    return model is not None and "MainLayers" in model.children()


def check_classes(record: PersistentRecord, path: str = "") -> None:
    """Every part is a class R3GAN's networks are made of (the resamplers: the interpolating ones)."""
    name = getattr(record, "qualified_name", record.class_name)
    if record.class_name not in KNOWN_CLASSES:
        where = path or "the network"
        raise UnsupportedR3GAN(
            f"{where} is a {name}, not a part of R3GAN's networks (brownvc/R3GAN, R3GAN/Networks.py); "
            "zoo import reads the published R3GAN pickles"
        )
    for child_name, child in record.children().items():
        check_classes(child, f"{path}.{child_name}" if path else child_name)


def reduced_precision_stages(generator: PersistentRecord) -> list[int]:
    """The stages the reference runs in bfloat16 (its FP16Stages): the stages' DataType, or the init kwargs."""
    stages = generator.children().get("Model")
    stages = stages.children().get("MainLayers") if stages is not None else None
    found = [
        int(k)
        for k, s in (stages.children() if stages is not None else {}).items()
        if k.isdigit() and s.state.get("DataType") is torch.bfloat16
    ]
    listed = generator.init_kwargs.get("FP16Stages")
    if not found and isinstance(listed, (list, tuple)):
        found = [i for i in listed if isinstance(i, int)]
    return sorted(found)


# --- reading the tensors ---------------------------------------------------------------------------


def _stages(tensors: dict[str, torch.Tensor], net: str) -> list[dict[str, torch.Tensor]]:
    """Model.MainLayers.<i>.Layers.* per stage i, names relative to the stage's Layers."""
    stages: dict[int, dict[str, torch.Tensor]] = {}
    for name, t in tensors.items():
        m = re.fullmatch(r"Model\.MainLayers\.(\d+)\.Layers\.(.+)", name)
        if m:
            stages.setdefault(int(m.group(1)), {})[m.group(2)] = t
    if not stages or sorted(stages) != list(range(len(stages))):
        raise UnsupportedR3GAN(f"the {net} has no Model.MainLayers.0..N stages")
    return [stages[i] for i in range(len(stages))]


def _blocks(stage: dict[str, torch.Tensor]) -> list[int]:
    return sorted({int(k.split(".")[0]) for k in stage if k.endswith("LinearLayer1.Layer.weight")})


def _need(tensors: dict[str, torch.Tensor], name: str, net: str) -> torch.Tensor:
    if name not in tensors:
        raise UnsupportedR3GAN(f"the {net} lacks {name}: not an R3GAN network")
    return tensors[name]


def reference_config(g: dict[str, torch.Tensor], d: dict[str, torch.Tensor]) -> dict:
    """The zoo config of an R3GAN G/D pair, from their tensor shapes."""
    stages = _stages(g, "generator")
    basis = _need(g, "Model.MainLayers.0.Layers.0.Basis", "generator")
    linear = _need(g, "Model.MainLayers.0.Layers.0.LinearLayer.weight", "generator")
    to_rgb = _need(g, "Model.AggregationLayer.Layer.weight", "generator")
    g_embed, d_embed = g.get("Model.EmbeddingLayer.weight"), d.get("Model.EmbeddingLayer.weight")
    if (g_embed is None) != (d_embed is None):
        raise UnsupportedR3GAN("one network is class-conditional and the other is not")
    widths, depths, expansions, group_widths = [], [], set(), []
    for i, stage in enumerate(stages):
        change = stage.get("0.LinearLayer.Layer.weight")
        widths.append(basis.shape[0] if i == 0 else change.shape[0] if change is not None else widths[-1])
        blocks = _blocks(stage)
        depths.append(len(blocks))
        for j in blocks:
            expand, grouped = stage[f"{j}.LinearLayer1.Layer.weight"], stage[f"{j}.LinearLayer2.Layer.weight"]
            expansions.add(expand.shape[0] / widths[-1])
            if grouped.shape[-2:] != (3, 3):
                raise UnsupportedR3GAN(f"kernel size {tuple(grouped.shape[-2:])} (the zoo's r3gan has 3x3)")
            group_widths.append((expand.shape[0], grouped.shape[1]))
    problems = []
    if len(set(depths)) != 1:
        problems.append(f"blocks per stage {depths} (the zoo's r3gan has the same number in every stage)")
    if len(expansions) > 1 or any(e != int(e) for e in expansions):
        problems.append(f"expansion factors {sorted(expansions)}")
    group_width = max(w for _, w in group_widths) if group_widths else 16
    if any(max(1, hidden // group_width) != hidden // w for hidden, w in group_widths):
        cards = sorted({hidden // w for hidden, w in group_widths})
        problems.append(f"cardinalities {cards} that are not one group width per stage")
    if problems:
        raise UnsupportedR3GAN("this R3GAN network uses options the zoo does not implement: " + "; ".join(problems))
    embed_dim = g_embed.shape[0] if g_embed is not None else 0
    config = r3gan_config(
        4 * 2 ** (len(stages) - 1),
        int(widths[0]),
        [w / widths[0] for w in widths],
        depth=depths[0],
        latent_dim=int(linear.shape[1] - embed_dim),
    )
    config.update(expansion=int(expansions.pop()) if expansions else 2, group_width=int(group_width))
    config["channels"] = int(to_rgb.shape[0])
    d_stages = _stages(d, "discriminator")
    head = _need(d, f"Model.MainLayers.{len(d_stages) - 1}.Layers.{depths[0]}.LinearLayer.weight", "discriminator")
    config["head_dim"] = int(head.shape[0])
    if g_embed is not None:
        config.update(conditioning="class", num_classes=int(g_embed.shape[1]))
        if tuple(d_embed.shape) != (head.shape[0], g_embed.shape[1]):
            raise UnsupportedR3GAN(
                f"D's label embedding {tuple(d_embed.shape)} does not fit its {head.shape[0]}-d output "
                f"and {g_embed.shape[1]} classes"
            )
        table, held = g_embed.shape[1] * widths[0], sum(t.numel() for t in g.values())
        if table > held:  # the only tensor the import makes larger than the file's: bound it by the file
            raise UnsupportedR3GAN(
                f"its {g_embed.shape[1]} classes x {widths[0]} channels would make a class table larger than "
                "the whole generator in the file; refused (a crafted file?)"
            )
    elif head.shape[0] != 1:
        raise UnsupportedR3GAN(f"an unconditional D with a {head.shape[0]}-d output (R3GAN's has 1)")
    if config["latent_dim"] <= 0:
        raise UnsupportedR3GAN("the generator's basis layer is narrower than its label embedding")
    stage_plan(config)  # the resolution and widths make a valid zoo config
    return config


def _check_kernel(name: str, kernel: torch.Tensor) -> None:
    expected = lowpass_kernel()
    if tuple(kernel.shape) != tuple(expected.shape) or not torch.allclose(kernel.float(), expected, atol=1e-6):
        raise UnsupportedR3GAN(f"{name}: a resampling filter other than [1, 2, 1] (the only one the zoo has)")


def reference_to_zoo(g: dict[str, torch.Tensor], d: dict[str, torch.Tensor], config: dict) -> dict[str, torch.Tensor]:
    """R3GAN state dicts (G wrapper, D wrapper) -> zoo `generator.` / `discriminator.` tensors."""
    out: dict[str, torch.Tensor] = {}
    used: set[str] = set()

    def take(src: dict, name: str, net: str) -> torch.Tensor:
        used.add(f"{net}:{name}")
        return _need(src, name, "generator" if net == "G" else "discriminator").float()

    # generator
    linear = take(g, "Model.MainLayers.0.Layers.0.LinearLayer.weight", "G").double()
    z_dim = config["latent_dim"]
    out["generator.blocks.0.transition.basis"] = take(g, "Model.MainLayers.0.Layers.0.Basis", "G")
    out["generator.blocks.0.transition.linear.weight"] = linear[:, :z_dim].float()
    if config["conditioning"] == "class":  # linear([z, E c]) = W_z z + (W_e E) c: one table row per class
        embed = take(g, "Model.EmbeddingLayer.weight", "G").double()
        out["generator.condition.embed.weight"] = (linear[:, z_dim:] @ embed).T.float().contiguous()
    for i, stage in enumerate(_stages(g, "generator")):
        prefix = f"Model.MainLayers.{i}.Layers."
        if i > 0:
            if "0.LinearLayer.Layer.weight" in stage:
                out[f"generator.blocks.{i}.transition.0.weight"] = take(g, prefix + "0.LinearLayer.Layer.weight", "G")
            _check_kernel(prefix + "0.Resampler.Kernel", take(g, prefix + "0.Resampler.Kernel", "G"))
        for k, j in enumerate(_blocks(stage)):
            for ref, ours in BLOCK.items():
                out[f"generator.blocks.{i}.residual.{k}.{ours}"] = take(g, f"{prefix}{j}.{ref}", "G")
    out["generator.to_rgb.weight"] = take(g, "Model.AggregationLayer.Layer.weight", "G")
    # discriminator
    out["discriminator.from_rgb.weight"] = take(d, "Model.ExtractionLayer.Layer.weight", "D")
    stages = _stages(d, "discriminator")
    for i, stage in enumerate(stages):
        prefix = f"Model.MainLayers.{i}.Layers."
        blocks = _blocks(stage)
        for k, j in enumerate(blocks):
            for ref, ours in BLOCK.items():
                out[f"discriminator.blocks.{i}.residual.{k}.{ours}"] = take(d, f"{prefix}{j}.{ref}", "D")
        t = f"{prefix}{len(blocks)}."
        if i == len(stages) - 1:
            out[f"discriminator.blocks.{i}.transition.basis.weight"] = take(d, t + "Basis.weight", "D")
            out[f"discriminator.blocks.{i}.transition.linear.weight"] = take(d, t + "LinearLayer.weight", "D")
        else:
            _check_kernel(t + "Resampler.Kernel", take(d, t + "Resampler.Kernel", "D"))
            if t + "LinearLayer.Layer.weight" in d:
                out[f"discriminator.blocks.{i}.transition.1.weight"] = take(d, t + "LinearLayer.Layer.weight", "D")
    feature_dim = config["head_dim"]
    if config["conditioning"] == "class":  # R3GAN's D is <phi(x), embed(c)> alone: no linear term
        out["discriminator.head.linear.weight"] = torch.zeros(1, feature_dim)
        out["discriminator.head.condition.embed.weight"] = take(d, "Model.EmbeddingLayer.weight", "D").T.contiguous()
    else:  # its 1-d output is the logit
        out["discriminator.head.linear.weight"] = torch.ones(1, 1)
    out["discriminator.head.linear.bias"] = torch.zeros(1)
    left = sorted({f"G:{k}" for k in g} - used) + sorted({f"D:{k}" for k in d} - used)
    if left:
        raise UnsupportedR3GAN(
            f"{len(left)} tensors the zoo's r3gan has no place for, e.g. {left[0].replace(':', ' ', 1)}"
        )
    return out


def variant_for(resolution: int) -> str:
    """The registered r3gan variant closest in resolution (the config carries the real one)."""
    variants = {32: "r3gan32", 64: "r3gan64", 256: "r3gan256"}
    best = min(variants, key=lambda r: abs(math.log2(r) - math.log2(resolution)))
    return variants[best]
