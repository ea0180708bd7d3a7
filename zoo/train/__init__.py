"""Training and transfer learning.

    api.py          `zoo.train`, `zoo.finetune`, `resume`: build a run's model, data and Trainer
    trainer.py      `Trainer`: one iteration (D step, G step, regularisers, EMA) and the loop
    transfer.py     fine-tuning's additions: FreezeD / frozen G blocks, L2-SP / EWC anchors, report
    rundir.py       the run directory: file names, claiming it, metrics, samples, final model
    data.py         the dataset at the model's size, per-image conditions, the batch order
    recipe.py       `Recipe`: every option of a run, with its kind ("train" or "finetune")
    checkpoint.py   resumable checkpoints as safetensors (no pickle)
    losses.py, augment.py, ema.py, regularizers.py, distributed.py: the pieces a step uses
Imports flow down this list (docs/architecture.md).
"""
from __future__ import annotations

import sys
import types


class _CallablePackage(types.ModuleType):
    """`zoo.train(...)` must work even after `import zoo.train.api` made `zoo.train` this package
    (a submodule import sets the parent's attribute, shadowing zoo's lazy `train` function)."""

    def __call__(self, *args, **kwargs):
        from zoo.train.api import train

        return train(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
