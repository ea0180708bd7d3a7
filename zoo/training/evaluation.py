"""What a run measures besides its losses: FID/KID of the EMA generator against the training images
(zoo.metrics, when available) and, when fine-tuning, memorisation scores. The generated inputs are
the same at every evaluation of a run, so its numbers compare over steps."""

from __future__ import annotations

import torch

from zoo.training.recipe import Recipe


class RunEvaluation:
    """`evaluation(generate)` -> {"fid", "kid", ...}; `generate(z, c)` gives float images on the CPU."""

    def __init__(
        self, images: torch.Tensor, conditions: torch.Tensor | None, recipe: Recipe, latent_dim: int, log=print
    ):
        self.images, self.conditions, self.recipe, self.latent_dim = images, conditions, recipe, latent_dim
        self.log = log
        self.fid = None  # zoo.metrics.FIDTracker once made; False when unavailable or not asked for

    def tracker(self):
        if self.fid is None:
            self.fid = False
            if self.recipe.eval_samples <= 0:
                return False
            try:
                from zoo.metrics import FIDTracker

                self.fid = FIDTracker(self.images, feature=self.recipe.eval_feature, progress=False)
            except Exception as e:  # noqa: BLE001 -- metrics are optional: report and train on
                self.log(f"note: FID/KID are not logged ({type(e).__name__}: {e})")
        return self.fid

    def __call__(self, generate) -> dict:
        r = self.recipe
        tracker = self.tracker()
        if tracker is False:
            return {}
        n = max(2, r.eval_samples)
        g = torch.Generator().manual_seed(r.seed + 12345)  # the same fakes' inputs every time
        z = torch.randn(n, self.latent_dim, generator=g)
        c = None
        if self.conditions is not None:
            c = self.conditions.cpu()[torch.randint(0, len(self.conditions), (n,), generator=g)]
        fakes = generate(z, c)
        scores = {k: float(v) for k, v in tracker(fakes).items()}
        if r.kind == "finetune":  # few-shot: a model that copies its N images scores a good FID
            from zoo.metrics.diversity import memorisation_scores

            scores.update(memorisation_scores(fakes, self.images, log=self.log))
        return scores
