"""What the scripts that train and ship the zoo's pretrained weights share: the index and the card's
quality table. (Run as `python scripts/NAME.py`, which puts scripts/ on sys.path.)"""

from __future__ import annotations

import json

from zoo.weights import PACKAGE_DIR, atomic_write_bytes


def update_index(filename: str, entry: dict) -> None:
    """Read-modify-write zoo/pretrained/index.json, keeping every other script's entries."""
    path = PACKAGE_DIR / "index.json"
    index = json.loads(path.read_text()) if path.exists() else {}
    index[filename] = entry
    atomic_write_bytes(path, (json.dumps(index, indent=2, sort_keys=True) + "\n").encode())


def quality_table(name: str, data: str, scores: dict, feature_note: str = "") -> list[str]:
    """The model card's "Quality" section: FID/KID of `name` next to random weights of the same architecture."""
    base = scores.get("baseline_random", {})
    lines = [
        "",
        f"## Quality (`zoo eval {name} --data {data} --n {scores.get('n')}`, feature space: "
        f"{scores.get('feature')}{feature_note})",
        "",
        "| generator | FID | KID |",
        "|---|---|---|",
        f"| {name} | {scores['fid']:.2f} | {scores['kid_mean']:.4f} ± {scores['kid_std']:.4f} |",
    ]
    if base:
        lines.append(
            f"| random weights, same architecture | {base['fid']:.2f} | "
            f"{base['kid_mean']:.4f} ± {base['kid_std']:.4f} |"
        )
    return lines
