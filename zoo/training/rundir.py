"""The run directory: what a training run writes, and the rules for writing it.

    samples/step-NNNNNN.png   fixed-latent grids of the EMA generator (step 0 = the starting point)
    metrics.jsonl             one JSON object per logged step (losses, images/s, lr, aug p, FID/KID)
    checkpoint.safetensors    everything needed to resume bit-identically (zoo.training.checkpoint)
    model.safetensors         the final EMA generator + D, loadable by zoo.load / create_model(DIR)

Every file is written to a temporary name then renamed: a killed run never leaves half a file.
A fresh run refuses a directory that holds another run (`claim_run_dir`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from zoo.training import checkpoint as ckpt
from zoo.weights import atomic_write_bytes

SAMPLES_DIR = "samples"
METRICS_NAME = "metrics.jsonl"
MODEL_NAME = "model.safetensors"
CHECKPOINT_NAME = ckpt.CHECKPOINT_NAME


class RunExistsError(FileExistsError):
    """A fresh run was pointed at a directory that holds an earlier run."""


def claim_run_dir(out: str | os.PathLike, overwrite: bool = False, log=print, remove: bool = True) -> None:
    """A fresh run must not mix its files with an earlier run's (a stale sample grid, metrics of two runs):
    refuse, saying how to continue or start over, unless `overwrite`, which removes the earlier run first
    (only where `remove`: under torchrun every rank checks, rank 0 removes)."""
    out = Path(out)
    found = [name for name in (CHECKPOINT_NAME, MODEL_NAME, METRICS_NAME) if (out / name).exists()]
    if not found:
        return
    if not overwrite and found == [METRICS_NAME]:
        raise RunExistsError(
            f"{out} holds an earlier run that stopped before its first checkpoint (only "
            f"{METRICS_NAME}): there is nothing to resume. Pass --overwrite (overwrite=True) to "
            "start again there, or choose another --out"
        )
    if not overwrite:
        raise RunExistsError(
            f"{out} already holds a run ({', '.join(found)}): continue it with --resume {out}, "
            "choose another --out, or pass --overwrite (overwrite=True) to replace it"
        )
    if not remove:
        return
    log(f"note: --overwrite: removing the earlier run in {out}")
    for name in found:
        (out / name).unlink(missing_ok=True)
    for stale in (out / SAMPLES_DIR).glob("step-*.png"):
        stale.unlink(missing_ok=True)


class RunDir:
    """Reads and writes one run directory's files (only the main process writes)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    @property
    def checkpoint_path(self) -> Path:
        return self.path / CHECKPOINT_NAME

    def save_checkpoint(self, tensors: dict[str, torch.Tensor], meta: dict) -> Path:
        return ckpt.save_checkpoint(self.checkpoint_path, tensors, meta)

    def checkpoint_step(self) -> int | str:
        """The step of the checkpoint on disk, for messages ("?" when it cannot be read)."""
        try:
            return ckpt.load_checkpoint(self.checkpoint_path)[1]["step"]
        except Exception:  # noqa: BLE001 -- only for the message
            return "?"

    def write_metrics(self, records: list[dict]) -> None:
        text = "".join(json.dumps(m, sort_keys=True) + "\n" for m in records)
        atomic_write_bytes(self.path / METRICS_NAME, text.encode())

    def read_metrics(self, up_to_step: int) -> list[dict]:
        """The records logged up to `up_to_step` (later ones belong to steps a resumed run repeats)."""
        path = self.path / METRICS_NAME
        if not path.exists():
            return []
        lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return [m for m in lines if m.get("step", 0) <= up_to_step]

    def write_samples(self, images: torch.Tensor, step: int, nrow: int, row_labels: list[str] | None = None) -> Path:
        """float [N, C, H, W] in [-1, 1] -> samples/step-NNNNNN.png, `row_labels` (captions) beside the rows."""
        from zoo.images import save_grid

        path = self.path / SAMPLES_DIR / f"step-{step:06d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        save_grid(images, path, nrow=nrow, row_labels=row_labels)
        return path

    def remove_partial_writes(self) -> None:
        """Temporary files of writes that a kill interrupted."""
        for stale in [*self.path.glob(".*.tmp"), *(self.path / SAMPLES_DIR).glob(".*.tmp")]:
            stale.unlink(missing_ok=True)

    def save_model(self, final, *, parent: str, dataset: str, extra: dict) -> Path:
        from zoo.weights import save

        return save(final, self.path / MODEL_NAME, parent=parent, dataset=dataset, extra=extra)


def grid_inputs(
    model, data, conditions: torch.Tensor | None, seed: int
) -> tuple[torch.Tensor, torch.Tensor | None, int, list[str] | None]:
    """(z, c, nrow, row labels) for a run's sample grids, the same at every step: one class per column for a
    class-conditional model, one caption per row for a text-conditional one (its label), else 8 x 8."""
    from zoo_runtime.latents import make_latents

    kind, nrow, c, labels = model.conditioning, 8, None, None
    if kind == "class":
        k = model.num_classes
        nrow = k if k <= 16 else 8
        n = nrow * max(1, 64 // nrow)
        c = torch.arange(n) % k
    elif kind == "text":
        first = {}
        for i, caption in enumerate(data.captions):
            first.setdefault(caption, i)
        rows = [first[cap] for cap in sorted(first)][:8]
        labels = [data.captions[i] for i in rows]
        n = 8 * len(rows)
        c = conditions[torch.tensor(rows).repeat_interleave(8)].cpu()
    else:
        n = 64
    z = torch.from_numpy(make_latents(n, model.latent_dim, seed))
    return z, c, nrow, labels
