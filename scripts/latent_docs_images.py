"""Make the pictures of docs/latent-tools.md (docs/images/latent-*), with the commands the page shows.

    python scripts/latent_docs_images.py [--fit-only]

Runs `zoo interpolate`, `zoo sample --truncation`, `zoo style-mix` and `zoo project` on the shipped models
and enlarges the 32 px results 3x and the 64 px ones up to 2x (nearest neighbour) so the 32 px images can be seen on the page.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

IMAGES = Path(__file__).resolve().parent.parent / "docs" / "images"
SCALE = 3


def zoo(*args) -> None:
    subprocess.run(
        [sys.executable, "-m", "zoo", *map(str, args), "--threads", "1"]
        if args[0] == "project"
        else [sys.executable, "-m", "zoo", *map(str, args)],
        check=True,
    )


def enlarge(src: Path, dst: Path, scale: int = SCALE) -> None:
    with Image.open(src) as im:
        if getattr(im, "n_frames", 1) > 1:
            frames, durations = [], []
            for i in range(im.n_frames):
                im.seek(i)
                frames.append(im.convert("RGB").resize((im.width * scale, im.height * scale), Image.NEAREST))
                durations.append(im.info.get("duration", 80))
            frames[0].save(
                dst, save_all=True, append_images=frames[1:], duration=durations, loop=0, lossless=False, quality=80
            )
        else:
            big = im.convert("RGB").resize((im.width * scale, im.height * scale), Image.NEAREST)
            big.save(dst, **({"quality": 85} if dst.suffix == ".webp" else {"optimize": True}))
    print(f"wrote {dst} ({dst.stat().st_size / 1024:.0f} KiB)")


def main() -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    if sys.argv[1:] == ["--fit-only"]:
        return fit_picture(IMAGES / "non-square-fit.png")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        zoo(
            "interpolate",
            "stylegan2_32.digits",
            "--seeds",
            "3,17,42,7",
            "--frames",
            32,
            "--loop",
            "--fps",
            12,
            "--out",
            tmp / "walk.webp",
        )
        enlarge(tmp / "walk.webp", IMAGES / "latent-walk.webp")
        zoo("interpolate", "stylegan2_64.shapes", "--seeds", "3,17,42", "--frames", 12, "--out", tmp / "strip.png")
        enlarge(tmp / "strip.png", IMAGES / "latent-walk-strip.webp", scale=1)
        zoo("sample", "stylegan2_64.shapes", "-n", 3, "--truncation", "0,0.5,0.8,1.0", "--out", tmp / "trunc.png")
        enlarge(tmp / "trunc.png", IMAGES / "latent-truncation.webp", scale=2)
        zoo(
            "style-mix",
            "stylegan2_32.digits",
            "--rows",
            "1,2,3",
            "--cols",
            "4,5,6,8",
            "--layers",
            "0-3",
            "--out",
            tmp / "mix.png",
        )
        enlarge(tmp / "mix.png", IMAGES / "latent-style-mix.png")
        letter = Image.new("L", (64, 64), 0)
        ImageDraw.Draw(letter).text((32, 32), "A", fill=255, font=ImageFont.load_default(size=48), anchor="mm")
        letter.save(tmp / "letter_A.png")
        zoo(
            "project",
            "stylegan2_32.digits",
            "--target",
            tmp / "letter_A.png",
            "--steps",
            300,
            "--out",
            tmp / "proj",
            "--no-progress",
        )
        enlarge(tmp / "proj" / "side_by_side.png", IMAGES / "latent-projection.png")
    fit_picture(IMAGES / "non-square-fit.png")


def fit_picture(dst: Path) -> None:
    """docs/non-square-images.md: three builtin:shapes scenes fitted to 32x64 by crop, pad and stretch (rows)."""
    import torch

    from zoo.data import load_dataset
    from zoo.images import make_grid, to_uint8, write_picture

    rows = [
        load_dataset("builtin:shapes", resolution="32x64", channels=3, fit=fit, n=3).images
        for fit in ("crop", "pad", "stretch")
    ]
    grid = make_grid(to_uint8(torch.cat(rows)), nrow=3)
    write_picture(grid.repeat(2, axis=0).repeat(2, axis=1), dst)
    print(f"wrote {dst} ({dst.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
