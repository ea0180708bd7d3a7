"""StyleGAN2 draws random numbers while training (per-pixel noise, style mixing, the path-length
probe). They come from the training loop's own checkpointed generator (`G.use_rng`), so a run that
stops at a checkpoint and resumes ends bit-identical to an uninterrupted one, even when something
else draws from torch's global RNG in between (here: the FID feature extractor that `eval_every`
builds once per process, at a different step in the resumed run)."""

from __future__ import annotations

import json

import torch

import zoo
from zoo.train.checkpoint import load_checkpoint

TINY_SG2 = dict(width=8, max_channels=16, channels=1, latent_dim=16, w_dim=16, mapping_layers=2)
RUN = dict(
    batch_size=4,
    sample_every=3,
    checkpoint_every=3,
    log_every=3,
    eval_samples=8,
    eval_every=3,
    augment="ada",
    seed=1,
    progress=False,
)


def test_stylegan2_stop_and_resume_is_bit_identical(tmp_path):
    reference, stopped = tmp_path / "reference", tmp_path / "stopped"
    zoo.train("stylegan2_32", "builtin:digits", reference, config=TINY_SG2, steps=9, **RUN)
    zoo.train("stylegan2_32", "builtin:digits", stopped, config=TINY_SG2, steps=3, **RUN)  # stops at a checkpoint
    torch.randn(1000)  # whatever runs in between may use the global RNG
    zoo.train(resume=stopped, steps=9, progress=False)

    a, meta_a = load_checkpoint(reference)
    b, meta_b = load_checkpoint(stopped)
    assert meta_a["step"] == meta_b["step"] == 9
    assert sorted(a) == sorted(b)
    # rng.torch is torch's global RNG state: training no longer reads it (the FID extractor does)
    different = [k for k in a if k != "rng.torch" and not torch.equal(a[k], b[k])]
    assert not different, f"tensors differ after resume: {different[:10]}"
    for name in ("step-000006.png", "step-000009.png"):
        assert (reference / "samples" / name).read_bytes() == (stopped / "samples" / name).read_bytes()

    def losses(run):
        return [
            {k: v for k, v in json.loads(line).items() if k != "images_per_s"}
            for line in (run / "metrics.jsonl").read_text().splitlines()
        ]

    assert losses(reference) == losses(stopped)


def test_training_randomness_comes_from_the_given_generator():
    torch.manual_seed(0)
    g = zoo.create_model("stylegan2_32", **TINY_SG2).generator.train()
    z = torch.randn(4, 16)

    def run(global_seed: int, rng_seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        torch.manual_seed(global_seed)
        g.use_rng(torch.Generator().manual_seed(rng_seed))
        for layer in g.modules():
            if hasattr(layer, "noise_strength"):
                layer.noise_strength.data.fill_(0.5)  # make the noise visible in the output
        g.pl_mean.zero_()  # the path-length regulariser's running mean is state: start each run alike
        return g(z), g.regularizer(z).detach()

    img, reg = run(global_seed=1, rng_seed=7)
    img2, reg2 = run(global_seed=2, rng_seed=7)  # another global RNG state: the same numbers
    assert torch.equal(img, img2) and torch.equal(reg, reg2)
    img3, _ = run(global_seed=1, rng_seed=8)  # another generator: other noise and mixing
    assert not torch.equal(img, img3)
    g.use_rng(None)  # back to torch's global RNG
    assert g.rng is None and all(getattr(m, "rng", None) is None for m in g.modules())
