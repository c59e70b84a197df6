"""acn-bench: Auto-Compressing Networks versus residual networks, benchmarked.

The public API, for scripts and plugins: the backbone registry (``Backbone``, ``register_backbone``,
``create_backbone``, ``list_backbones``) and the suite framework (``Suite``, ``ImageSuite``,
``Recipe``, ``BackboneRecipes``, ``TrainConfig``, ``Measured``, ``RunContext``, ``register_suite``, ``get_suite``,
``list_suites``). The names are imported on first use, so that importing one layer (say
``acn_bench.results``) does not load the models or the trainer (ARCHITECTURE.md, "The layers and who may import whom").
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from acn_bench.errors import UserError

if TYPE_CHECKING:
    from acn_bench.backbones import Backbone, create_backbone, list_backbones, register_backbone
    from acn_bench.suites import (
        BackboneRecipes,
        ImageSuite,
        Measured,
        Recipe,
        RunContext,
        Suite,
        get_suite,
        list_suites,
        register_suite,
    )

__version__ = "0.1.0"

_LAZY = {
    **dict.fromkeys(("Backbone", "create_backbone", "list_backbones", "register_backbone"), "acn_bench.backbones"),
    "TrainConfig": "acn_bench.training",
    **dict.fromkeys(
        (
            "BackboneRecipes",
            "ImageSuite",
            "Measured",
            "Recipe",
            "RunContext",
            "Suite",
            "get_suite",
            "list_suites",
            "register_suite",
        ),
        "acn_bench.suites",
    ),
}

__all__ = [
    "Backbone",
    "BackboneRecipes",
    "ImageSuite",
    "Measured",
    "Recipe",
    "RunContext",
    "Suite",
    "TrainConfig",
    "UserError",
    "__version__",
    "create_backbone",
    "get_suite",
    "list_backbones",
    "list_suites",
    "register_backbone",
    "register_suite",
]


def __getattr__(name: str) -> Any:
    """The public API (``acn_bench.create_backbone``, ``acn_bench.ImageSuite``, ...), imported on first use."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'acn_bench' has no attribute {name!r}")
