"""zoo-sngan: SNGAN (Miyato et al. 2018) for gan-zoo, packaged as a third-party plugin.

gan-zoo imports this package through the entry point declared in pyproject.toml:

    [project.entry-points."gan_zoo.models"]
    sngan = "zoo_sngan"

Importing it runs the `@register_model` decorators in zoo_sngan.sngan, and `sngan32` appears in
`zoo list` next to the built-in models (source: zoo-sngan).
"""

from zoo_sngan import sngan  # noqa: F401  (registers sngan32)

__version__ = "0.1.0"
