"""`zoo export --out DIR` never deletes or replaces what it did not write (issue 13, item 1)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings

import pytest
from click.testing import CliRunner

import zoo
from zoo.cli import main

pytestmark = pytest.mark.filterwarnings("ignore:mlpgan28 is an architecture without weights")


def tiny():
    return zoo.create_model("mlpgan28", hidden=[16, 32])


@pytest.fixture
def earlier(package, tmp_path):
    """earlier(out, format="onnx"): a copy of a cached real export of mlpgan28 at `out`."""

    def copy(out, format="onnx"):
        shutil.copytree(
            package("mlpgan28", format=format, hidden=[16, 32])[0].parent
            if format == "triton"
            else package("mlpgan28", hidden=[16, 32])[0],
            out,
        )
        return out

    return copy


def tree(folder):
    """{relative path: bytes} of every file under folder."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_cli_refuses_a_folder_holding_a_manifest_json_of_someone_else(tmp_path):
    """The issue's reproduction: a web app folder with sub/manifest.json and the user's thesis."""
    v = tmp_path / "v"
    (v / "sub").mkdir(parents=True)
    (v / "thesis.txt").write_text("thesis\n")
    (v / "sub" / "manifest.json").write_text("{}\n")
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "manifest.json").write_text('{"name": "my web app"}')  # a manifest.json at the top
    for out in (v, tmp_path / "w"):
        before = tree(out)
        result = CliRunner().invoke(
            main,
            ["export", "mlpgan28", "--out", str(out), "--config", "hidden=[16,32]", "--no-progress", "--overwrite"],
        )
        assert result.exit_code != 0
        line = result.output.strip().splitlines()[-1]
        assert "is not a model package written by zoo export" in line and "Nothing was changed" in line
        assert tree(out) == before
    assert (
        "it holds sub/, thesis.txt"
        in CliRunner().invoke(main, ["export", "mlpgan28", "--out", str(v), "--no-progress"]).output
    )
    assert sorted(os.listdir(tmp_path)) == ["v", "w"]  # no temporary folders either


def test_replacing_an_earlier_export_needs_overwrite(tmp_path, earlier):
    out = earlier(tmp_path / "pkg")
    first = tree(out)
    with pytest.raises(ValueError, match=r"holds an earlier zoo export; pass --overwrite"):
        zoo.export(tiny(), out, progress=False)
    assert tree(out) == first
    zoo.export(tiny(), out, progress=False, overwrite=True)
    assert set(tree(out)) == set(first) and tree(out) != first  # a new package (other weights) in its place
    assert sorted(os.listdir(tmp_path)) == ["pkg"]
    empty = tmp_path / "empty"
    empty.mkdir()
    zoo.export(tiny(), empty, progress=False)  # an empty folder holds nothing to lose
    assert (empty / "manifest.json").is_file()


@pytest.mark.parametrize("change", ["extra file", "extra folder", "altered file", "symlink", "bad manifest"])
def test_an_earlier_export_that_does_not_verify_is_never_replaced(tmp_path, earlier, change):
    out = earlier(tmp_path / "pkg")
    if change == "extra file":
        (out / "notes.txt").write_text("mine")
    elif change == "extra folder":
        (out / "results").mkdir()
    elif change == "altered file":
        with open(out / "generator.onnx", "ab") as f:
            f.write(b"my edit")
    elif change == "symlink":
        (tmp_path / "outside.txt").write_text("precious")
        (out / "link").symlink_to(tmp_path / "outside.txt")
    else:
        (out / "manifest.json").write_text("{}")
    before = tree(out)
    with pytest.raises(
        ValueError,
        match=r"is not a model package written by zoo export \(.*\); it holds .*"
        r"Nothing was changed",
    ):
        zoo.export(tiny(), out, progress=False, overwrite=True)
    assert tree(out) == before and (out / "results").is_dir() == (change == "extra folder")
    if change == "symlink":
        assert (tmp_path / "outside.txt").read_text() == "precious"


def test_a_file_or_symlink_as_out_is_refused(tmp_path):
    (tmp_path / "file").write_text("mine")
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "keep.txt").write_text("mine")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    for out, what in ((tmp_path / "file", "a file"), (tmp_path / "link", "a symlink")):
        with pytest.raises(ValueError, match=f"is not a folder \\({what}\\)"):
            zoo.export(tiny(), out, progress=False, overwrite=True)
    assert (tmp_path / "file").read_text() == "mine" and (tmp_path / "real" / "keep.txt").read_text() == "mine"


def test_a_folder_changed_during_the_export_is_put_back(tmp_path, monkeypatch, earlier):
    """The user writes into --out while the export runs: it is checked again after being renamed away,
    put back untouched, and the export refused."""
    from zoo.exporting import exporter

    out = earlier(tmp_path / "pkg")
    parity = exporter.parity

    def parity_then_user_writes(*args, **kwargs):
        (out / "written-meanwhile.txt").write_text("mine")
        return parity(*args, **kwargs)

    monkeypatch.setattr(exporter, "parity", parity_then_user_writes)
    before_pkg = {k: v for k, v in tree(out).items()}
    with pytest.raises(ValueError, match="changed during the export"):
        zoo.export(tiny(), out, progress=False, overwrite=True)
    assert tree(out) == {**before_pkg, "written-meanwhile.txt": b"mine"}
    assert sorted(os.listdir(tmp_path)) == ["pkg"]


def test_a_killed_exports_old_folder_loses_only_listed_files(tmp_path, earlier):
    """`.pkg.old-PID-...` is an earlier package renamed away by an export that was then killed: the next
    export deletes the files its manifest lists, and nothing else in it."""
    earlier(tmp_path / "src")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".pkg.old-{int(dead.stdout)}-0123abcd"
    os.replace(tmp_path / "src", stale)
    (stale / "someone-elses.txt").write_text("mine")
    lookalike = tmp_path / f".pkg.old-{int(dead.stdout)}-not-ours"  # not the exporter's name pattern
    lookalike.mkdir()
    (lookalike / "manifest.json").write_text("{}")
    zoo.export(tiny(), tmp_path / "pkg", progress=False)
    assert tree(stale) == {"someone-elses.txt": b"mine"}
    assert tree(lookalike) == {"manifest.json": b"{}"}


def test_triton_repository_is_replaced_only_by_triton(tmp_path, earlier):
    repo = earlier(tmp_path / "repo", format="triton")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zoo.export(tiny(), repo, progress=False, format="triton", overwrite=True)
        with pytest.raises(ValueError, match="no manifest.json in"):  # an onnx package is not a repository
            zoo.export(tiny(), repo, progress=False, overwrite=True)
        (repo / "README.md").write_text("my notes")
        with pytest.raises(ValueError, match="README.md is not a model folder"):
            zoo.export(tiny(), repo, progress=False, format="triton", overwrite=True)
    assert (repo / "README.md").read_text() == "my notes"
    model = next(p for p in repo.iterdir() if p.is_dir())
    assert json.loads((model / "manifest.json").read_text())["format"] == "triton"


def test_a_stale_old_folder_never_deletes_through_symlinks(tmp_path, earlier):
    """A `.pkg.old-*` folder is not verified before cleanup (its export was killed): a manifest listing
    `../x` or a path through a symlinked folder must not delete anything outside it."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "thesis.txt").write_text("mine")
    (outside / "manifest.json").write_text(json.dumps({"files": {"thesis.txt": {}}}))
    stale = earlier(tmp_path / f".pkg.old-{int(dead.stdout)}-0123abcd")
    (stale / "link").symlink_to(outside)
    manifest = json.loads((stale / "manifest.json").read_text())
    manifest["files"].update({"../outside/thesis.txt": {}, "link/thesis.txt": {}})
    (stale / "manifest.json").write_text(json.dumps(manifest))
    zoo.export(tiny(), tmp_path / "pkg", progress=False)
    assert (outside / "thesis.txt").read_text() == "mine" and (outside / "manifest.json").exists()
    assert sorted(p.name for p in stale.iterdir()) == ["link"]  # the package's own files are gone
