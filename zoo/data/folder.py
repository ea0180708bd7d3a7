"""A folder of images (PNG, JPEG, WebP, BMP), the way people keep their own data.

    my_images/
      metadata.jsonl        optional: {"file_name": "cat/001.png", "text": "a grey cat"} per line
      cat/001.png           images in sub-folders: the first folder name is the class label
      dog/7.jpg
      loose.webp            images at the top level are unlabelled (-1)

Captions follow the Hugging Face `imagefolder` convention: `metadata.jsonl` beside the images,
`file_name` relative to it, the caption in `text` (another column with `caption_column=`).
Images of any size are center-cropped to a square and resized (LANCZOS when shrinking, BICUBIC
when enlarging); transparency is composited onto white. Each image is resized as it is read (JPEGs
are decoded at a reduced scale when much larger), so memory follows the dataset the model sees, not
the files' pixel counts; an image over `max_pixels` (Pillow's decompression-bomb limit by default)
is an error naming it (skipped with `skip_bad=True`).
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
    """Image files under root, sorted, skipping hidden files and folders (.git, .ipynb_checkpoints) and
    links that lead outside root (a stranger's folder must not make us read other files; warned)."""
    files, outside = [], []
    real_root = root.resolve()
    for p in root.rglob("*"):
        rel = p.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES:
            if not p.resolve().is_relative_to(real_root):
                outside.append(rel.as_posix())
                continue
            files.append(p)
    if outside:
        warnings.warn(
            f"skipped {len(outside)} image(s) in {root} that link outside it (first: {outside[0]}); "
            "copy the files into the folder to use them",
            stacklevel=3,
        )
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def read_metadata_jsonl(path: Path, root: Path, caption_column: str = "text") -> dict[str, str]:
    """{relative posix path: caption}; every bad line is an error naming the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        line = path.read_bytes()[: e.start].count(b"\n") + 1
        raise DatasetError(
            f"{path}, line {line}: not UTF-8 text ({e.reason} at byte {e.start}); save metadata.jsonl as UTF-8"
        ) from None
    captions: dict[str, str] = {}
    folder = path.parent.resolve()
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}, line {lineno}"
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as e:
            raise DatasetError(
                f"{where} is not valid JSON ({getattr(e, 'msg', 'nested too deep')}); each line must be "
                'an object like {"file_name": "cat/001.png", "text": "a grey cat"}'
            ) from None
        if not isinstance(row, dict) or "file_name" not in row:
            raise DatasetError(
                f'{where} has no "file_name"; each line must be an object like '
                '{"file_name": "cat/001.png", "text": "a grey cat"}'
            )
        if caption_column not in row:
            raise DatasetError(
                f'{where} has no "{caption_column}" column (it has {sorted(row)[:10]}); '
                f"pass caption_column= to use another one"
            )
        name = str(row["file_name"])
        rel = Path(name)
        target = (folder / rel).resolve()
        if rel.is_absolute() or ".." in rel.parts or not target.is_relative_to(folder):
            raise DatasetError(
                f"{where} names {name[:200]!r}, which is outside {path.parent}; "
                "file_name must be a path inside the folder, relative to metadata.jsonl"
            )
        if not target.is_file():
            raise DatasetError(
                f"{where} names {name[:200]!r}, which does not exist in {path.parent}; "
                "fix the file_name (it is relative to metadata.jsonl) or remove the line"
            )
        try:
            key = target.relative_to(root.resolve()).as_posix()
        except ValueError:  # inside the folder by a path, but a symlink resolves elsewhere
            raise DatasetError(f"{where} names {name[:200]!r}, which is a link to a file outside {root}") from None
        caption = row[caption_column]
        captions[key] = caption if isinstance(caption, str) else ("" if caption is None else json.dumps(caption))
    return captions


def read_image(
    path: Path, resolution: int | None, max_pixels: int | None, size_hw: tuple[int, int] | None = None
) -> tuple[Image.Image, tuple[int, int], str]:
    """Decode one image, flattened to L/RGB and (when resolution is given) cropped and resized right away;
    with a non-square `size_hw` (height, width), shrunk to at most twice it (the fit to `size` comes later).

    Returns the image, the file's size and its flattened mode ("L" or "RGB").
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own budget decides, below
            with Image.open(path) as img:
                size = img.size
                if max_pixels is not None and size[0] * size[1] > max_pixels:
                    raise DatasetError(_too_big(path, size, max_pixels))
                if resolution is None and size_hw is not None:
                    img.draft(img.mode, (2 * size_hw[1], 2 * size_hw[0]))
                if resolution is not None:
                    side = min(size)  # decode JPEGs at the smallest scale that keeps 2x the target: sharp and small
                    img.draft(img.mode, (2 * resolution * size[0] // side, 2 * resolution * size[1] // side))
                img.load()  # decode now: truncated files fail here, not later
                out = flatten_mode(img)
                mode = out.mode
                if resolution is not None:
                    out = resize_square(out, resolution)
                elif size_hw is not None:
                    out = out.copy() if out is img else out
                    out.thumbnail((2 * size_hw[1], 2 * size_hw[0]), Image.Resampling.LANCZOS)  # keeps the aspect
                return (out.copy() if out is img else out), size, mode  # not tied to the closed file
    except Image.DecompressionBombError as e:  # over twice Pillow's limit: refused by Image.open itself
        raise DatasetError(
            f"cannot read image {path}: {e}. Shrink the image or delete it (in Python, "
            "zoo.load_dataset(..., skip_bad=True) skips such files with a warning)"
        ) from e
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        if isinstance(e, DatasetError):
            raise
        raise DatasetError(
            f"cannot read image {path}: {e}. The file is corrupt or not an image; "
            "replace or delete it (in Python, zoo.load_dataset(..., skip_bad=True) skips such files with a "
            "warning)"
        ) from e


def _too_big(path: Path, size: tuple[int, int], max_pixels: int) -> str:
    return (
        f"cannot read image {path}: it is {size[0]}x{size[1]} = {size[0] * size[1] / 1e6:.0f} Mpixels, over the "
        f"budget of {max_pixels / 1e6:.0f} Mpixels per image (a decompression bomb, or far larger than training "
        "needs); shrink it, delete it, or pass max_pixels= (zoo.load_dataset(..., skip_bad=True) skips such files)"
    )


def _header_size(path: Path, max_pixels: int | None) -> tuple[int, int]:
    """An image's size from its header, without decoding it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                size = img.size
    except Image.DecompressionBombError as e:
        raise DatasetError(f"cannot read image {path}: {e}. Shrink the image or delete it") from e
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise DatasetError(
            f"cannot read image {path}: {e}. The file is corrupt or not an image; "
            "replace or delete it (in Python, zoo.load_dataset(..., skip_bad=True) skips such files with a "
            "warning)"
        ) from e
    if max_pixels is not None and size[0] * size[1] > max_pixels:
        raise DatasetError(_too_big(path, size, max_pixels))
    return size


def load_folder(
    path: str | Path,
    resolution: int | None = None,
    channels: int | None = None,
    labels: bool = True,
    caption_column: str = "text",
    skip_bad: bool = False,
    progress: bool | None = None,
    max_pixels: int | None = Image.MAX_IMAGE_PIXELS,
    size: tuple[int, int] | None = None,
    fit: str = "crop",
) -> ImageDataset:
    """Every image under `path` as an ImageDataset.

    resolution: side of the output squares; None keeps the images' own size when they all share
    one square size. channels: 1 or 3; None picks 1 when every image is grayscale, else 3.
    labels: whether first-level sub-folders become class labels (class_names sorted).
    skip_bad: skip unreadable images (and images over max_pixels) with a warning instead of failing.
    max_pixels: the largest image (width x height) read; at most Pillow's Image.MAX_IMAGE_PIXELS x 2.
    size, fit: (height, width) of a non-square model instead of `resolution`; each image meets it from its own
    size by `fit` (crop, pad or stretch; zoo.resolution.fit_tensor).
    """
    root = Path(path)
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder of images")
    if channels not in (None, 1, 3):
        raise DatasetError(f"channels must be 1 or 3, got {channels}")
    files = find_images(root)
    if not files:
        raise DatasetError(
            f"no images found in {root} (looked for {', '.join(IMAGE_SUFFIXES)} files, "
            "also in sub-folders); put your images there or point --data at the right folder"
        )
    meta_path = root / METADATA
    captions_by_file = read_metadata_jsonl(meta_path, root, caption_column) if meta_path.exists() else {}

    from tqdm.auto import tqdm

    def skip(f: Path, e: DatasetError) -> None:
        if not skip_bad:
            raise e
        warnings.warn(f"skipping {f}: {e.__cause__ or e}", stacklevel=3)

    if resolution is None and size is None:  # the images' own size: from the headers first, nothing kept full size
        sizes_by_file = {}
        for f in files:
            try:
                sizes_by_file[f] = _header_size(f, max_pixels)
            except DatasetError as e:
                skip(f, e)
        files = list(sizes_by_file)
        sizes = Counter(sizes_by_file.values())
        if sizes and (len(sizes) != 1 or next(iter(sizes))[0] != next(iter(sizes))[1]):
            common = ", ".join(f"{w}x{h} ({k})" for (w, h), k in sizes.most_common(3))
            raise DatasetError(
                f"images in {root} have sizes {common}: pass a resolution (e.g. --resolution 64) "
                "so they can be cropped and resized to one square size"
            )
        resolution = next(iter(sizes))[0] if sizes else None

    small_images, kept, originals = [], [], []  # originals: (file size, flattened mode), for the notes
    for f in tqdm(
        files,
        desc=f"reading {root.name or root}",
        unit="img",
        disable=progress is False or (progress is None and len(files) < 2000),
    ):
        try:
            image, size_read, mode = read_image(f, None if size is not None else resolution, max_pixels, size)
        except DatasetError as e:
            skip(f, e)
            continue
        small_images.append(image)
        kept.append(f)
        originals.append((size_read, mode))
    if not kept:
        raise DatasetError(f"none of the {len(files)} images in {root} could be read")

    if channels is None:
        channels = 1 if all(mode == "L" for _, mode in originals) else 3
    if size is not None:
        from zoo.resolution import fit_tensor

        images = torch.stack([fit_tensor(pil_to_tensor(im, channels)[None], size, fit)[0] for im in small_images])
        notes = [f"fitted {len(small_images)} images to {size[0]}x{size[1]} by {fit} (fit= / --fit crop|pad|stretch)"]
    else:
        images = torch.stack([pil_to_tensor(im, channels) for im in small_images])
        notes = adaptation_notes(originals, resolution, channels)

    rel = [f.relative_to(root) for f in kept]
    in_folders = [len(r.parts) > 1 for r in rel]
    class_names: list[str] = []
    label_list = [-1] * len(kept)
    if labels and any(in_folders):
        class_names = sorted({r.parts[0] for r, sub in zip(rel, in_folders) if sub})
        index = {c: i for i, c in enumerate(class_names)}
        label_list = [index[r.parts[0]] if sub else -1 for r, sub in zip(rel, in_folders)]
        if not all(in_folders):
            warnings.warn(
                f"{sum(not s for s in in_folders)} images sit at the top of {root}, outside any class "
                "folder; they get label -1 (unlabelled)",
                stacklevel=2,
            )
    captions = [captions_by_file.get(r.as_posix(), "") for r in rel]
    return ImageDataset(
        images,
        torch.tensor(label_list, dtype=torch.int64),
        captions,
        class_names=class_names,
        source=f"folder:{root.name}",
        notes=notes,
    )


def adaptation_notes(originals: list[tuple[tuple[int, int], str]], resolution: int, channels: int) -> list[str]:
    """What loading did to the files (each given as its size and flattened mode), said once per kind of
    change (a user should know their 48x48 RGB photos became 32x32 grayscale)."""
    notes = []
    sizes = Counter(size for size, _ in originals if size != (resolution, resolution))
    if sizes:
        common = ", ".join(f"{w}x{h}" for (w, h), _ in sizes.most_common(3)) + (", ..." if len(sizes) > 3 else "")
        notes.append(
            f"resized {sum(sizes.values())} of {len(originals)} images ({common}) to {resolution}x{resolution} "
            "(center crop to a square, then resize)"
        )
    wrong = sum((mode == "L") != (channels == 1) for _, mode in originals)
    if wrong:
        notes.append(f"converted {wrong} of {len(originals)} images to {'grayscale' if channels == 1 else 'RGB'}")
    return notes
