"""Training and transfer learning: `zoo.train`, `zoo.finetune` and `zoo.resume` are zoo.training.api's.

    api.py          `zoo.train`, `zoo.finetune`, `resume`: build a run's model, data and Trainer
    trainer.py      `Trainer`: one iteration (D step, G step, regularisers, EMA) and the loop
    evaluation.py   FID/KID (and memorisation when fine-tuning) during a run
    interrupt.py    Ctrl-C / SIGTERM: a checkpoint after the step in progress, then stop
    transfer.py     fine-tuning's additions: FreezeD / frozen G blocks, L2-SP / EWC anchors, report
    rundir.py       the run directory: file names, claiming it, metrics, samples, final model
    data.py         the dataset at the model's size, per-image conditions, the batch order
    recipe.py       `Recipe`: every option of a run, with its kind ("train" or "finetune")
    checkpoint.py   resumable checkpoints as safetensors (no pickle)
    losses.py, augment.py, ema.py, regularizers.py, distributed.py: the pieces a step uses
Imports flow down this list (docs/architecture.md).
"""
