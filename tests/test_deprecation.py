"""The packages zoo.train and zoo.export were renamed zoo.training and zoo.exporting so that zoo.train,
zoo.finetune and zoo.export are plain functions; the old import paths work for one release, warn, and
leave the functions callable."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300)


def test_the_api_names_are_plain_functions():
    result = run("""
        import inspect, zoo
        import zoo.training.checkpoint, zoo.exporting.testing   # importing the packages binds no zoo.train/export
        for name in ("train", "finetune", "resume", "export", "resolve_source"):
            assert inspect.isfunction(getattr(zoo, name)), name
        assert zoo.export is zoo.exporting.export and zoo.train is zoo.training.api.train
        assert zoo.ExportError is zoo.exporting.ExportError
    """)
    assert result.returncode == 0, result.stderr


def test_old_import_paths_warn_and_keep_the_functions_callable():
    result = run("""
        import inspect, warnings, zoo
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            from zoo.train.checkpoint import load_checkpoint
            from zoo.train.loop import Recipe, RunExistsError, Trainer
            from zoo.train.transfer import FINETUNE_DEFAULTS, change_conditioning, finetune
            from zoo.train import losses
            from zoo.export.testing import tiny_config
            from zoo.export.verify import ExportError
        import zoo.training.checkpoint, zoo.training.losses, zoo.exporting.verify
        assert load_checkpoint is zoo.training.checkpoint.load_checkpoint  # the same objects, not copies
        assert losses is zoo.training.losses and ExportError is zoo.exporting.verify.ExportError
        assert finetune is zoo.finetune and FINETUNE_DEFAULTS.kind == "finetune" and Trainer and Recipe
        assert inspect.isfunction(zoo.train) and inspect.isfunction(zoo.export), (zoo.train, zoo.export)
        messages = [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)]
        for old, new in (("zoo.train.checkpoint", "zoo.training.checkpoint"),
                         ("zoo.export.testing", "zoo.exporting.testing"),
                         ("zoo.train.loop", "zoo.training.api")):
            assert any(m.startswith(old) and new in m for m in messages), (old, messages)
    """)
    assert result.returncode == 0, result.stderr
