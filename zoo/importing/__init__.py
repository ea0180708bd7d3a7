"""Bring checkpoints from other projects into the zoo: `import_checkpoint(src, out) -> GAN`.

- `unpickler`: the restricted unpickler (allow-listed globals, NVlabs persistence records read as
  data, never run; modules pickled by class read as data too); reusable by other importers.
- `stylegan2`: NVlabs and rosinality StyleGAN2 networks -> the `stylegan2_ada` architecture.
- `r3gan`: brownvc/R3GAN networks -> the `r3gan` architecture.
- `checkpoint`: format recognition by content and the import itself (`zoo import`).
"""

from __future__ import annotations

from zoo.importing.checkpoint import CheckpointImportError, import_checkpoint

__all__ = ["import_checkpoint", "CheckpointImportError"]
