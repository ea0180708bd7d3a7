"""The w-space entry of a model package, for generators with a mapping network (StyleGAN2):
`mapping.onnx` (z [, labels | embeddings] [, truncation] -> ws float32 [batch, num_ws, w_dim], the
generator's `styles`: one w per synthesis input, equal unless a truncation cutoff makes them differ) and
`synthesis.onnx` (ws float32 [batch, num_ws, w_dim] -> uint8 [batch, H, W, C], the same in-graph
post-processing as generator.onnx). The runtime uses them for w-space walks, style mixing and
projected latents (`zoo_runtime.interpolate.synthesize(gen, w)`). Both stay float32 whatever the
package's precision; each is checked against PyTorch here (fp32 tolerances) before it is written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import helper
from torch import nn

from zoo.exporting.graph import append_postprocess, example_inputs, export_core, input_names
from zoo.exporting.verify import TOLERANCES, ExportError, cpu_session

MAPPING_GRAPH, SYNTHESIS_GRAPH = "mapping.onnx", "synthesis.onnx"


def has_styles(generator: nn.Module) -> bool:
    """A generator with a mapping network and a synthesis(ws) entry (zoo.archs.stylegan2's contract)."""
    return all(hasattr(generator, a) for a in ("mapping", "styles", "synthesis", "num_ws", "w_dim"))


class MappingCore(nn.Module):
    def __init__(self, generator: nn.Module, kind: str, has_truncation: bool):
        super().__init__()
        self.g, self.kind, self.has_truncation = generator, kind, has_truncation

    def forward(self, z: torch.Tensor, *extra: torch.Tensor) -> torch.Tensor:
        c = extra[0] if self.kind != "none" else None
        return self.g.styles(z, c, extra[-1] if self.has_truncation else None, update_avg=False)  # eval: no mixing


class SynthesisCore(nn.Module):
    def __init__(self, generator: nn.Module):
        super().__init__()
        self.g = generator

    def forward(self, ws: torch.Tensor) -> torch.Tensor:
        return self.g.synthesis(ws).clamp(-1, 1)  # as the generator's eval-mode forward


def _rename_output(model: onnx.ModelProto, name: str) -> onnx.ModelProto:
    g = model.graph
    out = g.output[0]
    g.node.append(helper.make_node("Identity", [out.name], [name], name=f"output_{name}"))
    renamed = onnx.ValueInfoProto()
    renamed.CopyFrom(out)
    renamed.name = name
    del g.output[:]
    g.output.append(renamed)
    return model


def export_styles(
    generator: nn.Module,
    kind: str,
    has_truncation: bool,
    latent_dim: int,
    num_classes: int,
    text_dim: int,
    opset: int,
    pkg_dir: Path,
) -> dict:
    """Write mapping.onnx and synthesis.onnx into pkg_dir (generator: prepare_generator's copy); the manifest's
    "synthesis" entry."""
    names = input_names(kind, has_truncation)
    mapping_core = MappingCore(generator, kind, has_truncation).eval()
    mapping = _rename_output(
        export_core(mapping_core, names, example_inputs(names, latent_dim, num_classes, text_dim, 2, seed=4321), opset),
        "ws",
    )
    synthesis_core = SynthesisCore(generator).eval()
    w_dim, num_ws = int(generator.w_dim), int(generator.num_ws)
    example_ws = {"ws": np.random.default_rng(4322).standard_normal((2, num_ws, w_dim), dtype=np.float32)}
    synthesis_float = export_core(synthesis_core, ["ws"], example_ws, opset)
    synthesis = append_postprocess(synthesis_float)
    for m in (mapping, synthesis):
        onnx.checker.check_model(m, full_check=True)

    # parity at batch 3: the mapping's w, then the synthesis of those ws (float and uint8)
    from zoo.images import to_uint8

    feeds = example_inputs(names, latent_dim, num_classes, text_dim, 3, seed=4323)
    with torch.no_grad():
        w_torch = mapping_core(*(torch.from_numpy(feeds[n]) for n in names)).numpy()  # [3, num_ws, w_dim]
        ws = w_torch.copy()
        ws[:, num_ws // 2 :] = w_torch[::-1, num_ws // 2 :]  # a mixed style, as style-mix grids use
        img_torch = synthesis_core(torch.from_numpy(ws)).numpy()
    w_onnx = cpu_session(mapping).run(None, feeds)[0]
    img_float = cpu_session(synthesis_float).run(None, {"ws": ws})[0]
    img_uint8 = cpu_session(synthesis).run(None, {"ws": ws})[0]
    check = {
        "mapping_max_abs": float(np.abs(w_onnx - w_torch).max()),
        "synthesis_float_max_abs": float(np.abs(img_float - img_torch).max()),
        "synthesis_uint8_max_levels": int(
            np.abs(img_uint8.astype(np.int16) - to_uint8(img_torch).astype(np.int16)).max()
        ),
    }
    tol = TOLERANCES["fp32"]
    if (
        check["synthesis_float_max_abs"] > tol["float_max_abs"]
        or check["synthesis_uint8_max_levels"] > tol["uint8_max_levels"]
        or check["mapping_max_abs"] > tol["float_max_abs"] * max(1.0, np.abs(w_torch).max())
    ):
        raise ExportError(f"the w-space graphs differ from PyTorch: {check} (tolerance {tol})")
    onnx.save(mapping, pkg_dir / MAPPING_GRAPH)
    onnx.save(synthesis, pkg_dir / SYNTHESIS_GRAPH)
    return {
        "mapping": MAPPING_GRAPH,
        "synthesis": SYNTHESIS_GRAPH,
        "w_dim": w_dim,
        "num_ws": num_ws,
        "mapping_inputs": names,
        "mapping_output": "ws [batch, num_ws, w_dim]",
        "synthesis_inputs": ["ws"],
        "precision": "fp32",
        "parity": check,
    }
