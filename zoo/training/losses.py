"""GAN losses and the R1 penalty.

- "logistic": the non-saturating logistic loss of Goodfellow et al. (2014), as in StyleGAN2:
  D minimises softplus(-D(real)) + softplus(D(fake)); G minimises softplus(-D(fake)).
- "hinge": Lim & Ye (2017) / Miyato et al. (2018):
  D minimises relu(1 - D(real)) + relu(1 + D(fake)); G minimises -D(fake).
- "rpgan": the relativistic pairing loss of R3GAN (Huang et al. 2024; Jolicoeur-Martineau 2019):
  D minimises softplus(-(D(real) - D(fake))); G minimises softplus(-(D(fake) - D(real))), each
  real image paired with one fake. Pairing is what lets it cover every mode (see docs/r3gan.md).
- R1 (Mescheder et al. 2018): gamma/2 * E ||grad_x D(x_real)||^2, on real images; R2 is the same
  zero-centred penalty on generated images (R3GAN trains with both).
- Matching-aware term (GAN-CLS, Reed et al. 2016): a real image paired with a mismatched caption is
  scored as fake, so D learns whether image and text agree, not only whether the image is real.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

LOSSES = ("logistic", "hinge", "rpgan")
PAIRED = ("rpgan",)  # losses of (real, fake) pairs: d_pair_loss / g_pair_loss


def d_real_loss(logits: torch.Tensor, loss: str) -> torch.Tensor:
    """Loss for logits D gave to images it should call real. [N] or [N, L] -> scalar (mean over all logits)."""
    if loss == "logistic":
        return F.softplus(-logits).mean()
    if loss == "hinge":
        return F.relu(1.0 - logits).mean()
    raise ValueError(f"unknown loss {loss!r}; choose one of {LOSSES}")


def d_fake_loss(logits: torch.Tensor, loss: str) -> torch.Tensor:
    """Loss for logits D gave to images (or pairs) it should call fake. [N] -> scalar."""
    if loss == "logistic":
        return F.softplus(logits).mean()
    if loss == "hinge":
        return F.relu(1.0 + logits).mean()
    raise ValueError(f"unknown loss {loss!r}; choose one of {LOSSES}")


def g_loss(fake_logits: torch.Tensor, loss: str) -> torch.Tensor:
    """Generator loss from D's logits on generated images. [N] -> scalar."""
    if loss == "logistic":
        return F.softplus(-fake_logits).mean()  # non-saturating
    if loss == "hinge":
        return -fake_logits.mean()
    raise ValueError(f"unknown loss {loss!r}; choose one of {LOSSES}")


def d_pair_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, loss: str) -> torch.Tensor:
    """D's loss for a paired loss: real_logits[i] against fake_logits[i]. [N] -> scalar."""
    if loss == "rpgan":
        return F.softplus(-(real_logits - fake_logits)).mean()
    raise ValueError(f"{loss!r} is not a paired loss; choose one of {PAIRED}")


def g_pair_loss(fake_logits: torch.Tensor, real_logits: torch.Tensor, loss: str) -> torch.Tensor:
    """G's loss for a paired loss: make each fake score above its real partner. [N] -> scalar."""
    if loss == "rpgan":
        return F.softplus(-(fake_logits - real_logits)).mean()
    raise ValueError(f"{loss!r} is not a paired loss; choose one of {PAIRED}")


def r1_penalty(real_logits: torch.Tensor, real_images: torch.Tensor) -> torch.Tensor:
    """E ||grad_x D(x)||^2 over the batch; real_images must have requires_grad=True. With generated
    images (detached, requires_grad=True) and D's logits on them it is the R2 penalty."""
    (grad,) = torch.autograd.grad(real_logits.float().sum(), real_images, create_graph=True)
    return grad.float().square().flatten(1).sum(1).mean()


def r2_penalty(fake_logits: torch.Tensor, fake_images: torch.Tensor) -> torch.Tensor:
    """R2: E ||grad_x D(x)||^2 on generated images (detached from G, requires_grad=True)."""
    return r1_penalty(fake_logits, fake_images)


def mismatched(c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Conditions shifted by one within the batch, and a mask of rows that really differ.

    c: text embeddings [N, D]. Captions repeat in small datasets, so a shifted caption can equal
    the true one; those rows are masked out rather than being taught as "fake".
    """
    wrong = c.roll(1, dims=0)
    differs = (wrong != c).flatten(1).any(dim=1)
    return wrong, differs


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the rows mask keeps; values [N] or [N, L] (a D with several logits per image)."""
    mask = mask.to(values.dtype).reshape(-1, *[1] * (values.dim() - 1)).expand_as(values)
    return (values * mask).sum() / mask.sum().clamp(min=1.0)


def d_mismatch_loss(logits: torch.Tensor, mask: torch.Tensor, loss: str) -> torch.Tensor:
    """Matching-aware term: D(real image, wrong caption) should read fake. logits [N], mask [N] bool."""
    per_sample = F.softplus(logits) if loss in ("logistic", "rpgan") else F.relu(1.0 + logits)
    return masked_mean(per_sample, mask)


def paired_conditions(c: torch.Tensor | None) -> torch.Tensor | None:
    """Conditions whose second half repeats the first (rows i and i + B/2 share a caption or class), so that
    `mode_seeking` compares two latents under one condition. An odd last row keeps its own."""
    if c is None or len(c) < 2:
        return c
    half = len(c) // 2
    return torch.cat([c[:half], c[:half], c[2 * half :]])


def mode_seeking(fake: torch.Tensor, z: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """MSGAN's mode-seeking term (Mao et al. 2019), to minimise: 1 / (mean |G(z1) - G(z2)| / mean |z1 - z2| + eps)
    over the pairs (i, i + B/2) that `paired_conditions` made. Large when two latents give one image."""
    half = len(fake) // 2
    ratio = (fake[:half] - fake[half : 2 * half]).abs().mean() / (z[:half] - z[half : 2 * half]).abs().mean()
    return 1 / (ratio + eps)
