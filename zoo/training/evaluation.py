"""What a run measures besides its losses: FID/KID of the EMA generator against the training images
(zoo.metrics, when available), when fine-tuning, memorisation scores, and for text runs the variety
per prompt (zoo.metrics.prompt_diversity: generated over real mean pairwise distance for the captions
that several training images share). The generated inputs are the same at every evaluation of a run,
so its numbers compare over steps."""

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
        self.perceptual = None  # the prompt-diversity feature extractor once made; False when unavailable

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
        scores = self.fid_scores(generate)
        if self.conditions is not None and self.conditions.is_floating_point() and self.recipe.eval_samples > 0:
            scores.update(self.prompt_diversity(generate))
        return scores

    def prompt_diversity(self, generate, k: int = 8, m: int = 8) -> dict:
        """Variety per prompt over up to k captions that >= 2 training images share, m generated images each."""
        from zoo.metrics.prompt_diversity import groups_by_condition, prompt_diversity

        conditions = self.conditions.cpu()
        groups = groups_by_condition(conditions, k, m)
        if not groups or self.perceptual is False:
            return {}
        try:
            if self.perceptual is None:
                from zoo.metrics.diversity import PerceptualFeatures

                self.perceptual = PerceptualFeatures().eval()
            g = torch.Generator().manual_seed(self.recipe.seed + 777)  # the same inputs every time
            z = torch.randn(len(groups) * m, self.latent_dim, generator=g)
            c = torch.cat([conditions[idx[:1]].expand(m, -1) for idx in groups])
            real = [self.images.cpu()[idx] for idx in groups]
            d = prompt_diversity(list(generate(z, c).split(m)), real, extractor=self.perceptual)
        except Exception as e:  # noqa: BLE001 -- metrics are optional: report and train on
            self.perceptual = False
            self.log(f"note: variety per prompt is not logged ({type(e).__name__}: {e})")
            return {}
        self.log(
            f"variety per prompt ({len(groups)} captions x {m}): generated {d['generated']:.4f}, real "
            f"{d['real']:.4f}, ratio {d['ratio']} (goal >= 0.5)"
        )
        return {
            "prompt_diversity": d["generated"],
            "prompt_diversity_real": d["real"],
            "prompt_diversity_ratio": d["ratio"],
        }

    def fid_scores(self, generate) -> dict:
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
