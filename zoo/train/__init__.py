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
