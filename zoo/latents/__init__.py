"""What users do after sampling: latent walks, truncation and style-mixing grids, and projection of an
image into the latent space (GAN inversion).

    import zoo
    model = zoo.create_model("stylegan2_64.shapes", pretrained=True)
    frames = zoo.latents.interpolate(model, seeds=[3, 17, 42], frames=48, loop=True)   # float [48, C, H, W]
    grid = zoo.latents.style_mix(model, rows=[1, 2, 3], cols=[4, 5, 6])
    result = zoo.project(model, "photo.png", steps=500)                                 # result.latent: w

Walks use zoo_runtime.interpolate (numpy), so the runtime reproduces them from a model package.
"""

from __future__ import annotations

from zoo.latents.grids import style_mix, truncation_grid
from zoo.latents.project import Projection, project, write_projection
from zoo.latents.styles import has_mapping, map_latents, read_latents, synthesize
from zoo.latents.walk import interpolate, latent_keys

__all__ = [
    "interpolate",
    "latent_keys",
    "style_mix",
    "truncation_grid",
    "project",
    "Projection",
    "write_projection",
    "has_mapping",
    "map_latents",
    "synthesize",
    "read_latents",
]
