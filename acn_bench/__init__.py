"""acn-bench: Auto-Compressing Networks versus residual networks, benchmarked.

The backbone names below are imported on first use, so that importing one layer (say
``acn_bench.results``) does not load the models (see DESIGN.md, "Who may import whom").
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from acn_bench.errors import UserError

if TYPE_CHECKING:
    from acn_bench.backbones import Backbone, create_backbone, list_backbones, register_backbone

__version__ = "0.1.0"

_BACKBONE_NAMES = ("Backbone", "create_backbone", "list_backbones", "register_backbone")

__all__ = ["Backbone", "UserError", "create_backbone", "list_backbones", "register_backbone", "__version__"]


def __getattr__(name: str) -> Any:
    """The backbone API (``acn_bench.create_backbone`` and the rest), imported when first asked for."""
    if name in _BACKBONE_NAMES:
        return getattr(importlib.import_module("acn_bench.backbones"), name)
    raise AttributeError(f"module 'acn_bench' has no attribute {name!r}")
