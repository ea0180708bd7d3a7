"""Ctrl-C and SIGTERM during training write a checkpoint before exiting, and --resume continues from
it bit-identically; a run's class names are saved with its model."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import torch

import zoo
from zoo.training.interrupt import TrainingInterrupted
from zoo.weights import read_tensors

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
STEPS = 40


def train_cmd(out, *extra):
    return [
        sys.executable,
        "-m",
        "zoo",
        "train",
        "dcgan32",
        "--data",
        "builtin:digits",
        "--out",
        str(out),
        "--steps",
        str(STEPS),
        "--batch",
        "8",
        "--config",
        "width=8",
        "--config",
        "channels=1",
        "--condition",
        "class",
        "--log-every",
        "10",
        "--sample-every",
        "1000",
        "--checkpoint-every",
        "1000",
        "--eval-samples",
        "0",
        "--no-progress",
        "--threads",
        "1",
        *extra,
    ]


def test_ctrl_c_writes_a_checkpoint_and_resume_is_bit_identical(tmp_path):
    interrupted, reference = tmp_path / "interrupted", tmp_path / "reference"
    proc = subprocess.Popen(train_cmd(interrupted), env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (interrupted / "samples" / "step-000000.png").exists():  # training has started
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, "training did not start within 120 s"
        time.sleep(0.02)
    sent = time.time()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert time.time() - sent < 30, "the checkpoint after Ctrl-C took too long"
    assert proc.returncode == 128 + signal.SIGINT, (out, err)
    assert "Traceback" not in err and "interrupted by SIGINT at step" in err, err
    assert f"--resume {interrupted}" in err
    assert (interrupted / "checkpoint.safetensors").exists() and not (interrupted / "model.safetensors").exists()
    from zoo.training.checkpoint import load_checkpoint

    step = load_checkpoint(interrupted / "checkpoint.safetensors")[1]["step"]
    assert 1 <= step < STEPS

    resumed = subprocess.run(
        [sys.executable, "-m", "zoo", "train", "--resume", str(interrupted), "--no-progress", "--threads", "1"],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    ref = subprocess.run(train_cmd(reference), env=ENV, capture_output=True, text=True, timeout=300)
    assert ref.returncode == 0, ref.stderr
    a, b = read_tensors(reference / "model.safetensors"), read_tensors(interrupted / "model.safetensors")
    assert sorted(a) == sorted(b)
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"interrupted at step {step}, resumed: tensors differ {different[:5]}"
    # the classes it was trained on travel with the model: names and range
    model = zoo.load(interrupted)
    assert model.class_names == ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    assert torch.equal(model.sample(2, seed=1, labels="three"), model.sample(2, seed=1, labels=3))


def test_sigterm_in_process_raises_training_interrupted_after_a_checkpoint(tmp_path, one_torch_thread):
    started, done = tmp_path / "run" / "samples" / "step-000000.png", threading.Event()

    def terminate_once_training():  # not before: until fit() starts, SIGTERM would end pytest itself
        while not started.exists() and not done.wait(0.02):
            pass
        if not done.is_set():
            os.kill(os.getpid(), signal.SIGTERM)

    # the handlers training must put back: whatever this process had (a shell's background job starts with
    # SIGINT ignored, not at Python's default_int_handler)
    handlers_before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    sender = threading.Thread(target=terminate_once_training, daemon=True)
    sender.start()
    try:
        with pytest.raises(TrainingInterrupted, match="interrupted by SIGTERM at step") as e:
            zoo.train(
                "dcgan32",
                "builtin:digits",
                tmp_path / "run",
                config=dict(width=8, channels=1),
                steps=100_000,
                batch_size=8,
                eval_samples=0,
                sample_every=100_000,
                checkpoint_every=100_000,
                progress=False,
            )
    finally:
        done.set()
        sender.join()
    assert e.value.signum == signal.SIGTERM
    assert (tmp_path / "run" / "checkpoint.safetensors").exists()
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == handlers_before
