"""Training and transfer learning.

    loop.py         the training loop (`zoo.train`): Trainer, Recipe, run-directory layout
    losses.py       logistic / hinge losses, R1, GAN-CLS matching-aware term
    augment.py      DiffAugment and ADA (discriminator-side, differentiable)
    ema.py          EMA of the generator
    transfer.py     `zoo.finetune`: source init, FreezeD / frozen G blocks, new conditioning
    regularizers.py L2-SP and EWC (Fisher information)
    checkpoint.py   resumable checkpoints as safetensors (no pickle)
    distributed.py  torchrun data parallelism
"""
from __future__ import annotations

import sys
import types


class _CallablePackage(types.ModuleType):
    """`zoo.train(...)` must work even after `import zoo.train.loop` made `zoo.train` this package
    (a submodule import sets the parent's attribute, shadowing zoo's lazy `train` function)."""

    def __call__(self, *args, **kwargs):
        from zoo.train.loop import train

        return train(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
