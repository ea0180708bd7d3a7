"""What a runtime-only install costs on disk: zoo-runtime[cpu] against zoo-runtime[gpu] (and the serve extra).

    python benchmarks/install_size.py [--extras cpu,gpu,cpu+serve] [--out benchmarks/results/install_size]

For each extra: a fresh virtual environment, `pip install ./runtime[EXTRA]` from PyPI, then the
size of its site-packages (minus an empty venv's pip/setuptools) and of the wheels `pip download`
fetches. Needs network access to PyPI and a few minutes; writes OUT.json and OUT.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

RUNTIME = Path(__file__).resolve().parents[1] / "runtime"


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def site_packages(env: Path) -> Path:
    return next(env.glob("lib/python*/site-packages"))


def measure(extra: str, work: Path) -> dict:
    env = work / f"venv-{extra}"
    venv.create(env, with_pip=True)
    pip = [str(env / "bin" / "python"), "-m", "pip", "-q", "--disable-pip-version-check"]
    spec = f"{RUNTIME}[{extra.replace('+', ',')}]"
    subprocess.run([*pip, "install", spec], check=True)
    wheels = work / f"wheels-{extra}"
    subprocess.run([*pip, "download", "-d", str(wheels), spec], check=True)
    files = sorted(wheels.iterdir())
    return {
        "extra": extra,
        "installed_mb": folder_mb(site_packages(env)),
        "download_mb": folder_mb(wheels),
        "largest": max(files, key=lambda f: f.stat().st_size).name,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--extras", default="cpu,gpu,cpu+serve", help="comma-separated; + joins extras")
    p.add_argument("--out", default="benchmarks/results/install_size")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="zoo-install-size-") as tmp:
        work = Path(tmp)
        empty = work / "venv-empty"
        venv.create(empty, with_pip=True)
        base = folder_mb(site_packages(empty))
        rows = [measure(e.strip(), work) for e in args.extras.split(",") if e.strip()]
    for r in rows:
        r["installed_mb"] = round(r["installed_mb"] - base, 1)
        r["download_mb"] = round(r["download_mb"], 1)
    result = {"python": sys.version.split()[0], "empty_venv_mb": round(base, 1), "rows": rows}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2))
    lines = [
        f"Measured by `python benchmarks/install_size.py` (Python {result['python']}, Linux x86_64; installed "
        f"size is the venv's site-packages minus an empty venv's {base:.0f} MB).",
        "",
        "| install | installed (MB) | downloaded wheels (MB) | largest wheel |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| `pip install './runtime[{r['extra'].replace('+', ',')}]'` | {r['installed_mb']:.0f} | "
        f"{r['download_mb']:.0f} | {r['largest']} |"
        for r in rows
    ]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
