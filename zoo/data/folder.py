"""A folder of images (PNG, JPEG, WebP, BMP), the way people keep their own data.

    my_images/
      metadata.jsonl        optional: {"file_name": "cat/001.png", "text": "a grey cat"} per line
      cat/001.png           images in sub-folders: the first folder name is the class label
      dog/7.jpg
      loose.webp            images at the top level are unlabelled (-1)

Captions follow the Hugging Face `imagefolder` convention: `metadata.jsonl` beside the images,
`file_name` relative to it, the caption in `text` (another column with `caption_column=`).
Images of any size are center-cropped to a square and resized (LANCZOS when shrinking, BICUBIC
when enlarging); transparency is composited onto white.
"""
from __future__ import annotations

import json
import warnings
from collections import Counter
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError

from zoo.data import DatasetError, ImageDataset
from zoo.data.transforms import flatten_mode, pil_to_tensor, resize_square

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
METADATA = "metadata.jsonl"


def find_images(root: Path) -> list[Path]:
    """Image files under root, sorted, skipping hidden files and folders (.git, .ipynb_checkpoints)."""
    files = []
    for p in root.rglob("*"):
        rel = p.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES:
            files.append(p)
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def read_metadata_jsonl(path: Path, root: Path, caption_column: str = "text") -> dict[str, str]:
    """{relative posix path: caption}; every bad line is an error naming the line."""
    captions: dict[str, str] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}, line {lineno}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise DatasetError(f"{where} is not valid JSON ({e.msg}); each line must be an object like "
                               '{"file_name": "cat/001.png", "text": "a grey cat"}') from e
        if not isinstance(row, dict) or "file_name" not in row:
            raise DatasetError(f'{where} has no "file_name"; each line must be an object like '
                               '{"file_name": "cat/001.png", "text": "a grey cat"}')
        if caption_column not in row:
            raise DatasetError(f'{where} has no "{caption_column}" column (it has {sorted(row)}); '
                               f"pass caption_column= to use another one")
        rel = Path(str(row["file_name"]))
        target = (path.parent / rel)
        if not target.is_file():
            raise DatasetError(f"{where} names {row['file_name']!r}, which does not exist in {path.parent}; "
                               "fix the file_name (it is relative to metadata.jsonl) or remove the line")
        if not target.resolve().is_relative_to(root.resolve()):  # "../x.png", an absolute path, a link out
            raise DatasetError(f"{where} names {row['file_name']!r}, which is outside {root}; file_name must be "
                               "a path inside the folder, relative to metadata.jsonl")
        key = target.resolve().relative_to(root.resolve()).as_posix()
        captions[key] = str(row[caption_column] if row[caption_column] is not None else "")
    return captions


def _open(path: Path) -> Image.Image:
    try:
        with Image.open(path) as img:
            img.load()  # decode now: truncated files fail here, not later
            out = flatten_mode(img)
            return out.copy() if out is img else out  # not tied to the closed file
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise DatasetError(f"cannot read image {path}: {e}. The file is corrupt or not an image; "
                           "replace or delete it (in Python, zoo.load_dataset(..., skip_bad=True) skips such files with a "
                           "warning)") from e


def load_folder(path: str | Path, resolution: int | None = None, channels: int | None = None,
                labels: bool = True, caption_column: str = "text", skip_bad: bool = False,
                progress: bool | None = None) -> ImageDataset:
    """Every image under `path` as an ImageDataset.

    resolution: side of the output squares; None keeps the images' own size when they all share
    one square size. channels: 1 or 3; None picks 1 when every image is grayscale, else 3.
    labels: whether first-level sub-folders become class labels (class_names sorted).
    skip_bad: skip unreadable images with a warning instead of failing.
    """
    root = Path(path)
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder of images")
    if channels not in (None, 1, 3):
        raise DatasetError(f"channels must be 1 or 3, got {channels}")
    files = find_images(root)
    if not files:
        raise DatasetError(f"no images found in {root} (looked for {', '.join(IMAGE_SUFFIXES)} files, "
                           "also in sub-folders); put your images there or point --data at the right folder")
    meta_path = root / METADATA
    captions_by_file = read_metadata_jsonl(meta_path, root, caption_column) if meta_path.exists() else {}

    from tqdm.auto import tqdm

    pil_images, kept = [], []
    for f in tqdm(files, desc=f"reading {root.name or root}", unit="img",
                  disable=progress is False or (progress is None and len(files) < 2000)):
        try:
            pil_images.append(_open(f))
            kept.append(f)
        except DatasetError as e:
            if not skip_bad:
                raise
            warnings.warn(f"skipping {f}: {e.__cause__}", stacklevel=2)
    if not kept:
        raise DatasetError(f"none of the {len(files)} images in {root} could be read")

    if channels is None:
        channels = 1 if all(im.mode == "L" for im in pil_images) else 3
    if resolution is None:
        sizes = Counter(im.size for im in pil_images)
        if len(sizes) != 1 or next(iter(sizes))[0] != next(iter(sizes))[1]:
            common = ", ".join(f"{w}x{h} ({k})" for (w, h), k in sizes.most_common(3))
            raise DatasetError(f"images in {root} have sizes {common}: pass a resolution (e.g. --resolution 64) "
                               "so they can be cropped and resized to one square size")
        resolution = next(iter(sizes))[0]
    images = torch.stack([pil_to_tensor(resize_square(im, resolution), channels) for im in pil_images])
    notes = adaptation_notes(pil_images, resolution, channels)

    rel = [f.relative_to(root) for f in kept]
    in_folders = [len(r.parts) > 1 for r in rel]
    class_names: list[str] = []
    label_list = [-1] * len(kept)
    if labels and any(in_folders):
        class_names = sorted({r.parts[0] for r, sub in zip(rel, in_folders) if sub})
        index = {c: i for i, c in enumerate(class_names)}
        label_list = [index[r.parts[0]] if sub else -1 for r, sub in zip(rel, in_folders)]
        if not all(in_folders):
            warnings.warn(f"{sum(not s for s in in_folders)} images sit at the top of {root}, outside any class "
                          "folder; they get label -1 (unlabelled)", stacklevel=2)
    captions = [captions_by_file.get(r.as_posix(), "") for r in rel]
    return ImageDataset(images, torch.tensor(label_list, dtype=torch.int64), captions, class_names=class_names,
                        source=f"folder:{root.name}", notes=notes)


def adaptation_notes(pil_images: list[Image.Image], resolution: int, channels: int) -> list[str]:
    """What loading did to the files, said once per kind of change (a user should know their 48x48 RGB
    photos became 32x32 grayscale)."""
    notes = []
    sizes = Counter(im.size for im in pil_images if im.size != (resolution, resolution))
    if sizes:
        common = ", ".join(f"{w}x{h}" for (w, h), _ in sizes.most_common(3)) + (", ..." if len(sizes) > 3 else "")
        notes.append(f"resized {sum(sizes.values())} of {len(pil_images)} images ({common}) to {resolution}x{resolution} "
                     "(center crop to a square, then resize)")
    wrong = sum((im.mode == "L") != (channels == 1) for im in pil_images)
    if wrong:
        notes.append(f"converted {wrong} of {len(pil_images)} images to {'grayscale' if channels == 1 else 'RGB'}")
    return notes
