"""A fine-tuning run killed with SIGKILL continues with --resume and ends bit-identical to a run
that was never interrupted (weights, EMA, optimizer moments, ADA state, RNG states)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from zoo.train.checkpoint import load_checkpoint

ARGS = [
    "--data",
    "builtin:digits",
    "--steps",
    "200",
    "--batch",
    "8",
    "--checkpoint-every",
    "10",
    "--sample-every",
    "40",
    "--log-every",
    "10",
    "--eval-samples",
    "0",
    "--augment",
    "ada",
    "--l2sp",
    "0.1",
    "--ewc",
    "0.1",
    "--seed",
    "3",
    "--no-progress",
]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def finetune_cmd(source: str, out, *extra: str) -> list[str]:
    return [sys.executable, "-m", "zoo", "finetune", source, "--out", str(out), *ARGS, *extra]


@pytest.mark.slow  # slow: 24 s; test_ctrl_c_writes_a_checkpoint_and_resume_is_bit_identical covers resume in the default run
def test_sigkill_then_resume_is_bit_identical(tmp_path, source_file):
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    # the interrupted run: SIGKILL shortly after its first checkpoint, mid-step or mid-write
    proc = subprocess.Popen(
        finetune_cmd(source_file, killed), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.time() + 120
    while not (killed / "checkpoint.safetensors").exists():
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.time() < deadline, "no checkpoint within 120 s"
        time.sleep(0.01)
    time.sleep(0.1)  # then somewhere mid-step or mid-write
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (killed / "model.safetensors").exists(), "the run finished before it was killed"
    step_at_kill = load_checkpoint(killed)[1]["step"]
    assert 10 <= step_at_kill < 200
    for path in killed.rglob("*"):  # every file there is whole (temporary names aside)
        if path.suffix == ".png" and not path.name.startswith("."):
            from PIL import Image

            Image.open(path).verify()
    # resume it, and run the reference uninterrupted
    resumed = subprocess.run(
        [sys.executable, "-m", "zoo", "finetune", "--resume", str(killed), "--no-progress"],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming {killed} at step {step_at_kill}" in resumed.stdout
    ref = subprocess.run(finetune_cmd(source_file, reference), env=ENV, capture_output=True, text=True, timeout=300)
    assert ref.returncode == 0, ref.stderr

    a, meta_a = load_checkpoint(reference)
    b, meta_b = load_checkpoint(killed)
    assert meta_a["step"] == meta_b["step"] == 200
    assert sorted(a) == sorted(b)
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"tensors differ after resume: {different[:10]}"
    import zoo
    from zoo.weights import read_tensors

    ta, tb = read_tensors(reference / "model.safetensors"), read_tensors(killed / "model.safetensors")
    assert sorted(ta) == sorted(tb) and all(torch.equal(ta[k], tb[k]) for k in ta)
    assert zoo.read_metadata(reference / "model.safetensors") == zoo.read_metadata(killed / "model.safetensors")
    assert a["ada.p"].item() >= 0  # the augmentation state travelled too
    for name in ("step-000040.png", "step-000200.png"):
        assert (reference / "samples" / name).read_bytes() == (killed / "samples" / name).read_bytes()

    def losses(run):
        return [
            {k: v for k, v in json.loads(line).items() if k != "images_per_s"}
            for line in (run / "metrics.jsonl").read_text().splitlines()
        ]

    assert losses(reference) == losses(killed)
    assert not list(killed.glob(".*.tmp"))


def test_resume_refuses_structural_changes(tmp_path, source_file):
    import pytest

    import zoo

    zoo.finetune(
        source_file,
        "builtin:digits",
        tmp_path / "ft",
        steps=2,
        batch_size=8,
        checkpoint_every=2,
        eval_samples=0,
        progress=False,
    )
    with pytest.raises(ValueError, match="cannot change freeze_d"):
        zoo.finetune(resume=tmp_path / "ft", freeze_d=2, progress=False)
    with pytest.raises(ValueError, match="fine-tuning run"):
        zoo.train(resume=tmp_path / "ft", progress=False)
    with pytest.raises(ValueError, match="already trained 2 steps; --steps is the total"):
        zoo.finetune(resume=tmp_path / "ft", steps=1, progress=False)
    more = zoo.finetune(resume=tmp_path / "ft", steps=4, progress=False)  # extending a run is fine
    assert load_checkpoint(tmp_path / "ft")[1]["step"] == 4 and more is not None
    with pytest.raises(ValueError, match="already trained 4 steps"):
        zoo.finetune(resume=tmp_path / "ft", steps=3, progress=False)


def test_a_run_killed_before_its_first_checkpoint_says_to_overwrite(tmp_path, source_file):
    """Only metrics.jsonl survived: a fresh start is refused (it would mix runs), --resume has nothing
    to resume, and both messages lead to --overwrite, which works."""
    import pytest

    import zoo
    from zoo.train.loop import RunExistsError

    out = tmp_path / "ft"
    out.mkdir()
    (out / "metrics.jsonl").write_text('{"step": 1, "loss_d": 1.0}\n')
    with pytest.raises(RunExistsError, match="stopped before its first checkpoint.*--overwrite"):
        zoo.finetune(source_file, "builtin:digits", out, steps=1, batch_size=8, eval_samples=0, progress=False)
    with pytest.raises(FileNotFoundError, match="nothing to resume.*--overwrite"):
        zoo.finetune(resume=out, progress=False)
    zoo.finetune(
        source_file, "builtin:digits", out, steps=1, batch_size=8, eval_samples=0, progress=False, overwrite=True
    )
    assert (out / "model.safetensors").exists()
