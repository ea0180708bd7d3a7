"""The registry: names, patterns, tags, close-name suggestions, the listing index, plugins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import zoo
from zoo.registry import UnknownModelError, list_models, resolve


def test_list_models_patterns_and_natural_sort():
    names = list_models()
    assert {"mlpgan28", "dcgan32", "dcgan64"} <= set(names)
    assert names.index("dcgan32") < names.index("dcgan64")
    assert list_models("dcgan*") == [n for n in names if n.startswith("dcgan")]
    assert list_models("nothing-matches-*") == []


def test_pretrained_names_carry_tags_and_conditioning_filter():
    tagged = list_models(pretrained=True)
    assert "dcgan32.digits" in tagged and "mlpgan28.digits" in tagged
    assert all("." in n for n in tagged)
    assert "dcgan32.digits" in list_models(pretrained=True, conditioning="class")
    assert "dcgan32.digits" not in list_models(pretrained=True, conditioning="none")


def test_unknown_name_suggests_close_names():
    with pytest.raises(UnknownModelError) as e:
        zoo.create_model("dcgan33")
    assert "dcgan32" in str(e.value) and "zoo list" in str(e.value)


def test_unknown_tag_lists_available_tags():
    with pytest.raises(UnknownModelError, match="dcgan32.digits"):
        resolve("dcgan32.cats")


def test_config_the_architecture_does_not_accept():
    with pytest.raises(zoo.ConfigError, match="does not accept config keys \\['colour'\\]"):
        zoo.create_model("dcgan32", colour="red")
    with pytest.raises(zoo.ConfigError, match="power of two"):
        zoo.create_model("dcgan32", resolution=48)
    with pytest.raises(zoo.ConfigError, match="cannot be built with config .*'width': -3"):  # torch's error, named
        zoo.create_model("dcgan32", width=-3)


def _run(code: str, env_extra: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, cwd=cwd, timeout=300
    )


def test_listing_from_the_index_does_not_import_torch(zoo_home):
    warm = _run("import zoo; zoo.list_models()", {"GAN_ZOO_HOME": str(zoo_home)})
    assert warm.returncode == 0, warm.stderr
    assert (zoo_home / "registry-index.json").exists()
    cold = _run(
        """
        import sys, zoo
        names = zoo.list_models(pretrained=True)
        assert "dcgan32.digits" in names, names
        assert "torch" not in sys.modules, "listing imported torch"
    """,
        {"GAN_ZOO_HOME": str(zoo_home)},
    )
    assert cold.returncode == 0, cold.stderr


def test_subpackages_are_reachable_after_a_plain_import():
    """The README's `zoo.metrics.evaluate(...)`, `zoo.text.get_text_encoder(...)` work after `import zoo`."""
    result = _run("""
        import zoo
        assert callable(zoo.metrics.evaluate) and callable(zoo.text.get_text_encoder)
        assert callable(zoo.testing.check_model_contract) and callable(zoo.data.load_dataset)
    """)
    assert result.returncode == 0, result.stderr


def _fake_distribution(
    site: Path, dist: str, module: str, source: str, group: str = "gan_zoo.models", entry: str | None = None
) -> None:
    """A real installed distribution as importlib.metadata sees it: a .dist-info with entry points."""
    info = site / f"{dist.replace('-', '_')}-1.0.dist-info"  # wheel naming: dashes become underscores
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{group}]\n{entry or module} = {module}\n")
    (site / f"{module}.py").write_text(textwrap.dedent(source))


def test_broken_plugin_is_reported_and_everything_else_works(tmp_path, zoo_home):
    site = tmp_path / "site"
    _fake_distribution(site, "zoo-broken", "zoo_broken_plugin", "raise ImportError('needs libfoo 2.0')")
    _fake_distribution(
        site,
        "zoo-good",
        "zoo_good_plugin",
        """
        from zoo.registry import register_model
        from zoo.archs.dcgan import build_dcgan, dcgan_config

        @register_model(family="dcgan", default_config=dcgan_config(32, 8))
        def tinydcgan32(config):
            '''A tiny DCGAN from a plugin.'''
            return build_dcgan(config)
    """,
    )
    env = {"PYTHONPATH": f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", "GAN_ZOO_HOME": str(zoo_home)}
    result = _run(
        """
        import warnings, json, zoo
        from dataclasses import asdict
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            names = zoo.list_models()
        assert "tinydcgan32" in names and "dcgan32" in names, names
        assert any("zoo_broken_plugin" in str(w.message) and "zoo plugins" in str(w.message) for w in caught)
        model = zoo.create_model("tinydcgan32")
        assert model.spec.source == "zoo-good"
        assert tuple(model.sample(2, seed=0).shape) == (2, 3, 32, 32)
        from zoo.registry import plugin_statuses
        print(json.dumps([asdict(p) for p in plugin_statuses()]))
    """,
        env,
    )
    assert result.returncode == 0, result.stderr
    statuses = {p["name"]: p for p in json.loads(result.stdout.strip().splitlines()[-1])}
    assert statuses["zoo_broken_plugin"]["status"] == "failed"
    assert "needs libfoo 2.0" in statuses["zoo_broken_plugin"]["error"]
    assert statuses["zoo_broken_plugin"]["distribution"] == "zoo-broken"
    assert statuses["zoo_good_plugin"]["status"] == "loaded"

    cli = subprocess.run(["zoo", "plugins"], capture_output=True, text=True, env={**os.environ, **env}, timeout=300)
    assert cli.returncode == 0, cli.stderr
    assert "failed" in cli.stdout and "needs libfoo 2.0" in cli.stdout
    # `zoo list` still warns, once, in one line
    listed = subprocess.run(["zoo", "list"], capture_output=True, text=True, env={**os.environ, **env}, timeout=300)
    assert listed.returncode == 0 and "tinydcgan32" in listed.stdout, listed.stderr
    assert listed.stderr.count("warning: gan-zoo plugin 'zoo_broken_plugin'") == 1, listed.stderr
    disabled_cli = subprocess.run(
        ["zoo", "plugins"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env, "GAN_ZOO_DISABLE_PLUGINS": "1"},
    )
    assert "discovery is off" in disabled_cli.stdout

    disabled = _run(
        "import zoo; assert 'tinydcgan32' not in zoo.list_models(); assert 'dcgan32' in zoo.list_models()",
        {**env, "GAN_ZOO_DISABLE_PLUGINS": "1"},
    )
    assert disabled.returncode == 0, disabled.stderr


def test_a_plugin_fixed_by_installing_its_dependency_is_listed_at_once(tmp_path, zoo_home):
    """The index is keyed on plugins' own versions and sources, not on their dependencies: a failed
    plugin is retried by `zoo list`, so installing what it lacked shows its models."""
    site = tmp_path / "site"
    _fake_distribution(
        site,
        "zoo-needs-dep",
        "zoo_needs_dep",
        """
        import zoo_missing_dependency  # not installed yet
        from zoo.registry import register_model
        from zoo.archs.dcgan import build_dcgan, dcgan_config

        @register_model(family="dcgan", default_config=dcgan_config(32, 8))
        def depdcgan32(config):
            '''A plugin model that needs another package.'''
            return build_dcgan(config)
    """,
    )
    env = {
        **os.environ,
        "PYTHONPATH": f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "GAN_ZOO_HOME": str(zoo_home),
    }
    before = subprocess.run(["zoo", "list"], capture_output=True, text=True, env=env, timeout=300)
    assert "depdcgan32" not in before.stdout and "zoo_missing_dependency" in before.stderr
    (site / "zoo_missing_dependency.py").write_text("")  # the user installs the dependency
    after = subprocess.run(["zoo", "list"], capture_output=True, text=True, env=env, timeout=300)
    assert after.returncode == 0 and "depdcgan32" in after.stdout and "warning" not in after.stderr, after.stderr


def test_plugin_may_not_shadow_a_builtin(tmp_path, zoo_home):
    site = tmp_path / "site"
    _fake_distribution(
        site,
        "zoo-shadow",
        "zoo_shadow_plugin",
        """
        from zoo.registry import register_model
        from zoo.archs.dcgan import build_dcgan, dcgan_config

        @register_model(family="dcgan", default_config=dcgan_config(32, 8))
        def dcgan32(config):
            return build_dcgan(config)
    """,
    )
    env = {"PYTHONPATH": f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", "GAN_ZOO_HOME": str(zoo_home)}
    result = _run(
        """
        import warnings, zoo
        from zoo.registry import plugin_statuses
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = zoo.create_model("dcgan32")
        assert model.spec.source == "builtin" and model.config["width"] == 32
        status = [p for p in plugin_statuses() if p.name == "zoo_shadow_plugin"][0]
        assert status.status == "failed" and "shadow" in status.error, status
    """,
        env,
    )
    assert result.returncode == 0, result.stderr


def test_editing_an_installed_plugin_refreshes_the_index(tmp_path, zoo_home):
    site = tmp_path / "site"
    source = """
        from zoo.registry import register_model
        from zoo.archs.dcgan import build_dcgan, dcgan_config

        @register_model(family="dcgan", default_config=dcgan_config(32, 8))
        def {name}(config):
            return build_dcgan(config)
    """
    _fake_distribution(site, "zoo-edit", "zoo_edit_plugin", source.format(name="firstname32"))
    env = {"PYTHONPATH": f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", "GAN_ZOO_HOME": str(zoo_home)}
    assert "firstname32" in _run("import zoo; print(zoo.list_models())", env).stdout
    module = site / "zoo_edit_plugin.py"
    module.write_text(textwrap.dedent(source.format(name="secondname32")))
    os.utime(module, ns=(module.stat().st_mtime_ns + 10**9,) * 2)
    listing = _run("import zoo; print(zoo.list_models())", env).stdout
    assert "secondname32" in listing and "firstname32" not in listing


def test_plugin_module_imported_before_discovery_keeps_its_distribution(tmp_path, zoo_home):
    site = tmp_path / "site"
    _fake_distribution(
        site,
        "zoo-direct",
        "zoo_direct_plugin",
        """
        from zoo.registry import register_model
        from zoo.archs.dcgan import build_dcgan, dcgan_config

        @register_model(family="dcgan", default_config=dcgan_config(32, 8))
        def directdcgan32(config):
            '''A plugin model whose module the user imports by hand.'''
            return build_dcgan(config)
    """,
    )
    env = {"PYTHONPATH": f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", "GAN_ZOO_HOME": str(zoo_home)}
    result = _run(
        """
        import zoo_direct_plugin, zoo  # imported directly: discovery has not run yet
        from zoo.registry import get_spec
        assert get_spec("directdcgan32").source == "zoo-direct", get_spec("directdcgan32").source
        assert get_spec("dcgan32").source == "builtin"
        assert "directdcgan32" in zoo.list_models()
    """,
        env,
    )
    assert result.returncode == 0, result.stderr


def test_a_plugin_importing_another_plugins_module_does_not_take_its_models(tmp_path, zoo_home):
    """Plugin `aaa` (loaded first: entry points load in name order) imports plugin `bbb`'s module, then
    fails: bbb's model stays, credited to bbb's distribution, and bbb is reported loaded."""
    site = tmp_path / "site"
    _fake_distribution(
        site,
        "zoo-bbb",
        "zoo_bbb",
        """
        from zoo.registry import register_model
        from zoo.archs.dcgan import build_dcgan, dcgan_config

        @register_model(family="dcgan", default_config=dcgan_config(32, 8))
        def bbbdcgan32(config):
            '''A model of plugin bbb.'''
            return build_dcgan(config)
    """,
    )
    _fake_distribution(site, "zoo-aaa", "zoo_aaa", "import zoo_bbb\nraise RuntimeError('aaa is broken')\n")
    env = {"PYTHONPATH": f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", "GAN_ZOO_HOME": str(zoo_home)}
    result = _run(
        """
        import json, warnings, zoo
        from dataclasses import asdict
        warnings.simplefilter("ignore")
        from zoo.registry import plugin_statuses, resolve
        assert "bbbdcgan32" in zoo.list_models(), zoo.list_models()
        print(json.dumps([resolve("bbbdcgan32")[0].source, {p.name: p.status for p in plugin_statuses()}]))
    """,
        env,
    )
    assert result.returncode == 0, result.stderr
    source, statuses = json.loads(result.stdout.strip().splitlines()[-1])
    assert source == "zoo-bbb" and statuses["zoo_aaa"] == "failed" and statuses["zoo_bbb"] == "loaded"
