"""From a model argument to a ready `GAN`: `resolve_source` (what every command uses),
`create_model` (by name) and `load` (from a weights file). zoo.sources decides what an argument
names; see docs/architecture.md.
"""

from __future__ import annotations

import copy
import os

from zoo.model import GAN, build
from zoo.registry import ConfigError, ModelSpec, UnknownModelError, resolve
from zoo.sources import ModelSource, locate_source, weights_file
from zoo.weights import (
    WeightsError,
    check_config_fits_file,
    check_shapes,
    fetch,
    load_state_into,
    read_metadata,
    read_tensor,
    read_tensor_shapes,
    read_tensors,
)

FEATURE_SPEC = "discriminator.feature_spec"  # a feature D's structure, saved as a uint8 JSON tensor


def resolve_source(
    source: str | os.PathLike | ModelSource | GAN,
    *,
    pretrained: bool = True,
    copy_model: bool = False,
    **config_overrides,
) -> GAN:
    """A GAN from a tagged name (its weights), an architecture name (its first tag's weights, or fresh
    weights with pretrained=False), a `.safetensors` path, a `file://` URL, a run directory, or a GAN
    (returned as is, or a private copy with copy_model=True). Anything else is one clear error
    (FileNotFoundError, UnknownModelError with close matches, ConfigError)."""
    if isinstance(source, GAN):
        if config_overrides:
            raise ValueError("config overrides apply to a model name or file; this GAN is already built")
        return copy.deepcopy(source) if copy_model else source
    located = locate_source(source)
    if located.kind == "file":
        return load(located.weights, **config_overrides)
    return create_model(located.text, pretrained=pretrained, **config_overrides)


def create_model(name: str | os.PathLike, pretrained: bool = False, **config_overrides) -> GAN:
    """A GAN by name (`dcgan32`, `dcgan32.digits`) or from a weights file.

    `pretrained=True` loads the tag's weights (the first tag when the name has none); a name with a
    tag and `pretrained=False` gives that model's config with fresh weights. A path to a
    `.safetensors` file or to a run directory loads it (overrides apply to the config).
    """
    located = locate_source(name)
    if located.kind == "file":
        return load(located.weights, **config_overrides)
    spec, tag = located.spec, located.tag
    if pretrained:
        if tag is None:
            if not spec.pretrained:
                raise ConfigError(
                    f"{spec.name} has no pretrained weights: pick a tagged model from `zoo list "
                    f"--pretrained`, train it (`zoo train {spec.name} --data ...`), or build it with "
                    "random weights in Python (create_model(name, pretrained=False))"
                )
            tag = next(iter(spec.pretrained))
        path = fetch(spec.pretrained[tag])
        return load(path, _tag=tag, **config_overrides)
    return build(spec, {**spec.default_config, **config_overrides}, tag=tag)


def load(path: str | os.PathLike, _tag: str | None = None, **config_overrides) -> GAN:
    """Rebuild a GAN from a gan-zoo safetensors file (or a run directory holding model.safetensors)."""
    path = weights_file(path)  # a file, a file:// URL (weight sources may be) or a run directory
    meta = read_metadata(path)
    try:
        spec, _ = resolve(meta["arch"])
    except UnknownModelError as e:
        raise UnknownModelError(
            f"{path} was saved by architecture {meta['arch']!r}, which is not registered here: "
            "install the plugin that provides it (`zoo plugins` lists what is loaded). "
            f"{e}"
        ) from None
    config = {**spec.default_config, **meta["config"], **config_overrides}
    tag = _tag or meta.get("tag") or None
    # The file is untrusted: compare its config with its tensor shapes before allocating anything.
    shapes = read_tensor_shapes(path)
    check_config_fits_file(meta["config"], shapes, path)
    check_shapes_before_building(
        spec,
        config,
        shapes,
        path,
        feature_spec=(lambda: read_tensor(path, FEATURE_SPEC, max_elements=1 << 20))
        if FEATURE_SPEC in shapes
        else None,
    )
    model = build(spec, config, tag=tag if tag in spec.pretrained else None, metadata=meta)
    tensors = read_tensors(path)
    if FEATURE_SPEC in tensors:  # saved with a pretrained-feature D (--d-backbone): rebuild it
        from zoo.archs.feature_discriminator import restore_feature_discriminator

        restore_feature_discriminator(model, tensors[FEATURE_SPEC])
    load_state_into(model, tensors, str(path))
    model.metadata["path"] = str(path)
    return model.eval()


def check_shapes_before_building(
    spec: ModelSpec, config: dict, shapes: dict[str, tuple[int, ...]], what, feature_spec=None
) -> None:
    """Build the model on the meta device (shapes only, no memory) and compare with `shapes` ({GAN
    state_dict key: shape}, from a file's header), so an untrusted config never allocates. feature_spec:
    a callable giving the saved feature-D spec tensor, when the file has one."""
    from zoo.skeleton import TooManyTensors, state_shapes

    def build_skeleton():
        skeleton = build(spec, config)
        if feature_spec is not None:
            from zoo.archs.feature_discriminator import restore_feature_discriminator

            restore_feature_discriminator(skeleton, feature_spec())
        return skeleton

    try:
        expected = state_shapes(build_skeleton, max_registrations=8 * len(shapes) + 1024)
    except (ConfigError, TooManyTensors) as e:
        cause = e if isinstance(e, TooManyTensors) else e.__cause__
        if isinstance(cause, TooManyTensors):
            raise WeightsError(
                f"{what}: its config builds a model with far more tensors than the file's "
                f"{len(shapes)}; the metadata was changed or the file is corrupt. Download or export "
                "it again."
            ) from None
        if isinstance(cause, NotImplementedError):  # an op the meta device lacks: checked after building instead
            return
        raise
    check_shapes(expected, shapes, str(what), spec.name, config)
