"""Differentiable augmentation of D's inputs, real and fake alike (G gets gradients through it):
`DiffAugment` (Zhao et al. 2020: colour, translation, cutout on every image) and `ADA` (Karras et
al. 2020: each transform with probability p, p steered by r_t = E[sign(D(real))] towards a target;
see the class for what is implemented). Random numbers come from the generator passed in, so a
resumed run draws the same augmentations.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

AUGMENTS = ("none", "diffaug", "ada")


def _rand(n: int, x: torch.Tensor, g: torch.Generator | None) -> torch.Tensor:
    return torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype, generator=g)


class DiffAugment:
    """colour + translation + cutout, every image, every call."""

    kind = "diffaug"

    def __init__(self, translation: float = 0.125, cutout: float = 0.5):
        self.translation = translation
        self.cutout = cutout

    @property
    def p(self) -> float:
        return 1.0

    def __call__(self, x: torch.Tensor, g: torch.Generator | None = None) -> torch.Tensor:
        x = self.color(x, g)
        x = self.translate(x, g)
        return self.cut(x, g)

    @staticmethod
    def color(x: torch.Tensor, g) -> torch.Tensor:
        n = x.shape[0]
        x = x + (_rand(n, x, g) - 0.5)  # brightness
        mean = x.mean(dim=1, keepdim=True)
        x = (x - mean) * (_rand(n, x, g) * 2) + mean  # saturation (a no-op on one channel)
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        return (x - mean) * (_rand(n, x, g) + 0.5) + mean  # contrast

    def translate(self, x: torch.Tensor, g) -> torch.Tensor:
        n, _, h, w = x.shape
        sh, sw = int(h * self.translation + 0.5), int(w * self.translation + 0.5)
        ty = torch.randint(-sh, sh + 1, (n, 1, 1), device=x.device, generator=g)
        tx = torch.randint(-sw, sw + 1, (n, 1, 1), device=x.device, generator=g)
        gb, gy, gx = torch.meshgrid(
            torch.arange(n, device=x.device),
            torch.arange(h, device=x.device),
            torch.arange(w, device=x.device),
            indexing="ij",
        )
        gy = (gy + ty + 1).clamp(0, h + 1)
        gx = (gx + tx + 1).clamp(0, w + 1)
        padded = F.pad(x, [1, 1, 1, 1])  # zero border: pixels shifted in from outside are 0
        return padded.permute(0, 2, 3, 1)[gb, gy, gx].permute(0, 3, 1, 2)  # [N, C, H, W]

    def cut(self, x: torch.Tensor, g) -> torch.Tensor:
        n, _, h, w = x.shape
        ch, cw = int(h * self.cutout + 0.5), int(w * self.cutout + 0.5)
        oy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), device=x.device, generator=g)
        ox = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), device=x.device, generator=g)
        ys = torch.arange(h, device=x.device).view(1, h, 1)
        xs = torch.arange(w, device=x.device).view(1, 1, w)
        y0, x0 = oy - ch // 2, ox - cw // 2  # the square may hang over the border
        inside = (ys >= y0) & (ys < y0 + ch) & (xs >= x0) & (xs < x0 + cw)  # [N, H, W]
        return x * (~inside).unsqueeze(1).to(x.dtype)

    def state_tensors(self) -> dict[str, torch.Tensor]:
        return {}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        pass


class ADA:
    """Adaptive discriminator augmentation: per-image transforms with probability p, p adapted.

    p moves up when r_t > target (0.6) and down otherwise, fast enough to go 0 -> 1 in `ada_kimg`
    thousand images. Transforms: x-flip, 90-degree rotations, integer translation, isotropic and
    anisotropic scaling, rotation and fractional translation (one affine warp, reflection padded),
    then brightness, contrast and saturation. (The paper's upfirdn anti-aliasing filters, luma flip
    and hue rotation are left out.)
    """

    kind = "ada"

    def __init__(self, target: float = 0.6, ada_kimg: float = 10.0, interval: int = 4, p: float = 0.0):
        self.target = target
        self.ada_kimg = ada_kimg
        self.interval = interval
        self._p = torch.tensor(float(p), dtype=torch.float64)
        self._sign_sum = torch.zeros((), dtype=torch.float64)
        self._count = torch.zeros((), dtype=torch.float64)
        self.last_rt = float("nan")

    @property
    def p(self) -> float:
        return float(self._p)

    def set_p(self, p: float) -> None:
        """A scheduled p (recipe schedule r3gan) instead of the adaptive one."""
        self._p = torch.tensor(min(max(float(p), 0.0), 1.0), dtype=torch.float64)

    # -- the heuristic ----------------------------------------------------------------------

    def accumulate(self, real_logits: torch.Tensor) -> None:
        """Add sign(D(real)) of one batch (no host sync: the sums stay tensors until adjust)."""
        s = real_logits.detach().sign().double().sum()
        self._sign_sum = self._sign_sum.to(s.device) + s
        self._count = self._count.to(s.device) + real_logits.numel()

    def adjust(self, images_since: int, all_reduce=None) -> float:
        """Move p after `images_since` real images: up when D is over-confident on reals."""
        stats = torch.stack([self._sign_sum, self._count])
        if all_reduce is not None:
            all_reduce(stats)
        sign_sum, count = stats.tolist()
        if count > 0:
            self.last_rt = sign_sum / count
            step = math.copysign(1.0, self.last_rt - self.target) * images_since / (self.ada_kimg * 1000.0)
            self._p = torch.tensor(min(max(float(self._p) + step, 0.0), 1.0), dtype=torch.float64)
        self._sign_sum = torch.zeros((), dtype=torch.float64)
        self._count = torch.zeros((), dtype=torch.float64)
        return self.p

    def state_tensors(self) -> dict[str, torch.Tensor]:
        return {
            "ada.p": self._p.cpu().reshape(1),
            "ada.sign_sum": self._sign_sum.cpu().reshape(1),
            "ada.count": self._count.cpu().reshape(1),
        }

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        self._p = tensors["ada.p"].reshape(()).double()
        self._sign_sum = tensors["ada.sign_sum"].reshape(()).double()
        self._count = tensors["ada.count"].reshape(()).double()

    # -- the transforms ----------------------------------------------------------------------

    def __call__(self, x: torch.Tensor, g: torch.Generator | None = None) -> torch.Tensor:
        p = self.p
        if p <= 0:
            return x
        return self.color(self.geometric(x, p, g), p, g)

    @staticmethod
    def _gate(n: int, p: float, x: torch.Tensor, g) -> torch.Tensor:
        """1 for the images a transform applies to (each with probability p), else 0. [N]"""
        return (torch.rand(n, device=x.device, generator=g) < p).to(x.dtype)

    def geometric(self, x: torch.Tensor, p: float, g) -> torch.Tensor:
        n, _, h, w = x.shape
        dev, dt = x.device, x.dtype
        eye = torch.eye(3, device=dev, dtype=dt).expand(n, 3, 3)
        m = eye.clone()

        def compose(t: torch.Tensor) -> None:
            nonlocal m
            m = m @ t

        def scale(sx, sy):
            t = eye.clone()
            t[:, 0, 0], t[:, 1, 1] = sx, sy
            return t

        def rotate(a):
            t = eye.clone()
            t[:, 0, 0], t[:, 0, 1], t[:, 1, 0], t[:, 1, 1] = a.cos(), -a.sin(), a.sin(), a.cos()
            return t

        def translate(tx, ty):
            t = eye.clone()
            t[:, 0, 2], t[:, 1, 2] = tx, ty
            return t

        def rnd():
            return torch.rand(n, device=dev, generator=g, dtype=dt)

        def normal():
            return torch.randn(n, device=dev, generator=g, dtype=dt)

        # x-flip
        flip = self._gate(n, p, x, g) * (rnd() < 0.5).to(dt)
        compose(scale(1 - 2 * flip, torch.ones_like(flip)))
        # 90-degree rotations
        k = torch.floor(rnd() * 4) * self._gate(n, p, x, g)
        compose(rotate(k * (math.pi / 2)))
        # integer translation (up to 1/8 of the size; coordinates span [-1, 1] so 2 * 0.125)
        gate = self._gate(n, p, x, g)
        tx = torch.round((rnd() * 2 - 1) * 0.125 * w) / w * 2 * gate
        ty = torch.round((rnd() * 2 - 1) * 0.125 * h) / h * 2 * gate
        compose(translate(tx, ty))
        # isotropic scaling, log-normal with std 0.2 * ln 2
        s = torch.exp2(normal() * 0.2 * self._gate(n, p, x, g))
        compose(scale(s, s))
        # rotation (split in two so the total probability of some rotation stays about p)
        p_rot = 1 - math.sqrt(max(0.0, 1 - p))
        compose(rotate((rnd() * 2 - 1) * math.pi * self._gate(n, p_rot, x, g)))
        # anisotropic scaling
        s = torch.exp2(normal() * 0.2 * self._gate(n, p, x, g))
        compose(scale(s, 1 / s))
        compose(rotate((rnd() * 2 - 1) * math.pi * self._gate(n, p_rot, x, g)))
        # fractional translation, normal with std 0.125 of the size
        gate = self._gate(n, p, x, g)
        compose(translate(normal() * 0.125 * 2 * gate, normal() * 0.125 * 2 * gate))
        if bool((m - eye).abs().amax() == 0):  # nothing drawn for this batch
            return x
        grid = F.affine_grid(m[:, :2, :], list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)

    def color(self, x: torch.Tensor, p: float, g) -> torch.Tensor:
        n = x.shape[0]
        x = x + torch.randn(n, 1, 1, 1, device=x.device, dtype=x.dtype, generator=g) * 0.2 * self._gate(
            n, p, x, g
        ).view(n, 1, 1, 1)  # brightness
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        c = torch.exp2(
            torch.randn(n, 1, 1, 1, device=x.device, dtype=x.dtype, generator=g)
            * 0.5
            * self._gate(n, p, x, g).view(n, 1, 1, 1)
        )
        x = (x - mean) * c + mean  # contrast
        if x.shape[1] == 3:
            mean = x.mean(dim=1, keepdim=True)
            s = torch.exp2(
                torch.randn(n, 1, 1, 1, device=x.device, dtype=x.dtype, generator=g)
                * self._gate(n, p, x, g).view(n, 1, 1, 1)
            )
            x = (x - mean) * s + mean  # saturation
        return x


def make_augment(kind: str | None, **options):
    """None for "none", else the augmentation object (options: ada_target, ada_kimg, ada_p)."""
    kind = kind or "none"
    if kind == "none":
        return None
    if kind == "diffaug":
        return DiffAugment()
    if kind == "ada":
        return ADA(
            target=options.get("ada_target", 0.6), ada_kimg=options.get("ada_kimg", 10.0), p=options.get("ada_p", 0.0)
        )
    raise ValueError(f"unknown augmentation {kind!r}; choose one of {', '.join(AUGMENTS)}")
