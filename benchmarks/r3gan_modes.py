"""Mode coverage on a 2-D mixture of 8 Gaussians: RpGAN + R1 + R2 (R3GAN's objective) against the
non-saturating logistic loss, with the zoo's own loss functions (zoo.training.losses).

A ring of 8 Gaussians (radius 2, std 0.05); G and D are small MLPs trained with Adam for a few
hundred steps. A mode counts as covered when at least 1% of 2,000 samples fall within 4 std
(0.2) of its centre; "good" is the share of samples within 4 std of any centre. The same seeds
and initial weights for both objectives.

    nice -n 10 python benchmarks/r3gan_modes.py --seeds 0 1 2 --steps 600
writes benchmarks/results/r3gan_modes.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch
from torch import nn

from zoo.training import losses

MODES, RADIUS, STD = 8, 2.0, 0.05
OBJECTIVES = {  # name: (loss, r1 gamma, r2 gamma, Adam betas)
    "rpgan+r1+r2": ("rpgan", 0.1, 0.1, (0.0, 0.99)),
    "non-saturating": ("logistic", 0.0, 0.0, (0.5, 0.999)),
}


def centres() -> torch.Tensor:
    a = torch.arange(MODES) * (2 * math.pi / MODES)
    return RADIUS * torch.stack([a.cos(), a.sin()], 1)  # [8, 2]


def sample_real(n: int, g: torch.Generator) -> torch.Tensor:
    idx = torch.randint(0, MODES, (n,), generator=g)
    return centres()[idx] + STD * torch.randn(n, 2, generator=g)


def mlp(d_in: int, d_out: int, hidden: int = 64) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(d_in, hidden),
        nn.LeakyReLU(0.2),
        nn.Linear(hidden, hidden),
        nn.LeakyReLU(0.2),
        nn.Linear(hidden, hidden),
        nn.LeakyReLU(0.2),
        nn.Linear(hidden, d_out),
    )


def coverage(x: torch.Tensor) -> dict:
    dist = torch.cdist(x, centres())  # [N, 8]
    near = dist.min(1)
    close = near.values < 4 * STD
    counts = torch.bincount(near.indices[close], minlength=MODES)
    return {"modes": int((counts >= 0.01 * len(x)).sum()), "good": round(float(close.float().mean()), 4)}


def train(objective: str, seed: int, steps: int = 600, batch: int = 128, z_dim: int = 8, lr: float = 1e-3) -> dict:
    loss, gamma1, gamma2, betas = OBJECTIVES[objective]
    torch.manual_seed(seed)
    G, D = mlp(z_dim, 2), mlp(2, 1)
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=betas)
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        real = sample_real(batch, g).requires_grad_(gamma1 > 0)
        fake = G(torch.randn(batch, z_dim, generator=g)).detach().requires_grad_(gamma2 > 0)
        real_logits, fake_logits = D(real).squeeze(1), D(fake).squeeze(1)
        if loss in losses.PAIRED:
            loss_d = losses.d_pair_loss(real_logits, fake_logits, loss)
        else:
            loss_d = losses.d_real_loss(real_logits, loss) + losses.d_fake_loss(fake_logits, loss)
        if gamma1 > 0:
            loss_d = loss_d + gamma1 / 2 * losses.r1_penalty(real_logits, real)
        if gamma2 > 0:
            loss_d = loss_d + gamma2 / 2 * losses.r2_penalty(fake_logits, fake)
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        D.requires_grad_(False)
        fake_logits = D(G(torch.randn(batch, z_dim, generator=g))).squeeze(1)
        if loss in losses.PAIRED:
            with torch.no_grad():
                real_logits = D(sample_real(batch, g)).squeeze(1)
            loss_g = losses.g_pair_loss(fake_logits, real_logits, loss)
        else:
            loss_g = losses.g_loss(fake_logits, loss)
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        D.requires_grad_(True)
    with torch.no_grad():
        x = G(torch.randn(2000, z_dim, generator=torch.Generator().manual_seed(10_000 + seed)))
    return coverage(x)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "r3gan_modes"))
    args = p.parse_args()
    torch.set_num_threads(1)
    rows = []
    for name in OBJECTIVES:
        for seed in args.seeds:
            t = time.perf_counter()
            r = train(name, seed, args.steps)
            rows.append({"objective": name, "seed": seed, **r, "seconds": round(time.perf_counter() - t, 1)})
            print(rows[-1], flush=True)
    summary = {
        name: {
            "modes_mean": sum(r["modes"] for r in rows if r["objective"] == name) / len(args.seeds),
            "modes_min": min(r["modes"] for r in rows if r["objective"] == name),
            "good_mean": round(sum(r["good"] for r in rows if r["objective"] == name) / len(args.seeds), 4),
        }
        for name in OBJECTIVES
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(
        json.dumps({"steps": args.steps, "seeds": args.seeds, "runs": rows, "summary": summary}, indent=2)
    )
    lines = [
        f"# Mode coverage, 8 Gaussians ({args.steps} steps, batch 128, seeds {args.seeds})",
        "",
        "| objective | modes covered (of 8), mean | min | samples within 4 std |",
        "|---|---|---|---|",
    ]
    lines += [f"| {n} | {s['modes_mean']:.2f} | {s['modes_min']} | {s['good_mean']:.3f} |" for n, s in summary.items()]
    lines += [
        "",
        "Per run: " + "; ".join(f"{r['objective']} seed {r['seed']}: {r['modes']} modes" for r in rows),
        "",
        "Command: `nice -n 10 python benchmarks/r3gan_modes.py --seeds "
        + " ".join(map(str, args.seeds))
        + f" --steps {args.steps}`",
    ]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
